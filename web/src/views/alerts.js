// The alert queue (tabs by state, filter by kind, sortable columns) and an
// alert's detail (reasons, events, triage actions, cases).
import { h, clear, api, qs, when, badge, officerLink, personLink, table, errorBox } from '../ui.js';

const STATES = [
  ['open', 'Open'], ['new', 'New'], ['assigned', 'Assigned'], ['escalated', 'Escalated'], ['dismissed', 'Dismissed'], ['all', 'All'],
];

function score(s) {
  const pct = Math.round(s * 100);
  const level = s >= 0.9 ? 'high' : s >= 0.7 ? 'medium' : 'low';
  return h('span', { class: `score score-${level}`, title: `score ${s}` }, String(pct));
}

export async function alertsView(main, { query }) {
  const state = query.get('state') || 'open';
  const kind = query.get('kind') || '';
  const sort = query.get('sort') || 'score';
  const order = query.get('order') || 'desc';
  const data = await api(`/v1/console/alerts${qs({ state, kind, sort, order, limit: 200 })}`);
  const go = (p) => {
    const q = new URLSearchParams({ state, kind, sort, order, ...p });
    for (const [k, v] of [...q]) if (!v) q.delete(k);
    location.hash = `#/alerts?${q}`;
  };
  const openCount = data.counts.new + data.counts.assigned + data.counts.escalated;
  const tabs = h('div', { class: 'tabs', role: 'tablist' }, STATES.map(([s, label]) => {
    const n = s === 'open' ? openCount : s === 'all' ? openCount + data.counts.dismissed : data.counts[s];
    return h('button', { class: s === state ? 'tab active' : 'tab', role: 'tab', 'aria-selected': s === state ? 'true' : 'false',
      dataset: { state: s }, onclick: () => go({ state: s }) }, label, h('span', { class: 'count' }, String(n)));
  }));
  const kindSel = h('select', { id: 'kind-filter', onchange: (e) => go({ kind: e.target.value }) },
    h('option', { value: '' }, 'All kinds'),
    data.kinds.map((k) => h('option', { value: k, selected: k === kind }, k)));
  const sortHead = (key, label) => {
    const active = sort === key;
    const next = active && order === 'desc' ? 'asc' : 'desc';
    return h('button', { class: active ? 'sort active' : 'sort', onclick: () => go({ sort: key, order: next }) },
      label, active ? (order === 'desc' ? ' ▼' : ' ▲') : '');
  };
  const rows = data.alerts.map((a) => h('tr', { class: `state-${a.state}`, dataset: { alert: a.id } },
    h('td', {}, h('a', { href: `#/alerts/${a.id}`, class: 'alert-link' }, a.id)),
    h('td', {}, score(a.score)),
    h('td', {}, a.kind),
    h('td', {}, a.officers.map((o, i) => [i ? ', ' : '', officerLink(o)])),
    h('td', {}, a.subjects.map((p, i) => [i ? ', ' : '', personLink(p)])),
    h('td', { class: 'reason' }, a.reasons[0] || ''),
    h('td', { class: 'nowrap' }, when(a.raised_at)),
    h('td', {}, badge(a.state), a.assignee ? h('span', { class: 'assignee' }, ` ${a.assignee}`) : '')));
  clear(main).append(
    h('div', { class: 'page-head' }, h('h1', {}, 'Alert queue'),
      h('p', { class: 'sub' }, `${data.total} alert${data.total === 1 ? '' : 's'} shown. Officers appear as pseudonyms until a supervisor approves unmasking.`)),
    h('div', { class: 'toolbar' }, tabs, h('label', { class: 'filter' }, 'Kind ', kindSel)),
    table(['Alert', sortHead('score', 'Score'), sortHead('kind', 'Kind'), 'Officers', 'People', 'Main reason', sortHead('raised_at', 'Raised'), 'State'],
      rows, { class: 'grid alerts', empty: 'No alerts in this view.' }));
}

function triageForm(a, refresh) {
  const msg = h('div', { class: 'form-msg', role: 'status' });
  const reason = h('input', { id: 'dismiss-reason', placeholder: 'Reason to dismiss (required)', maxlength: 1024 });
  const assignee = h('input', { id: 'assignee', placeholder: 'Assign to (blank: me)', maxlength: 64 });
  const act = async (state, extra) => {
    msg.textContent = '';
    try {
      await api(`/v1/console/alerts/${a.id}/state`, { state, ...extra });
      await refresh();
    } catch (e) {
      msg.textContent = e.message;
      msg.className = 'form-msg bad';
    }
  };
  return h('div', { class: 'triage' },
    h('div', { class: 'row' },
      assignee,
      h('button', { id: 'btn-assign', onclick: () => act('assigned', { assignee: assignee.value || undefined }) }, 'Assign'),
      h('button', { id: 'btn-escalate', class: 'warn', onclick: () => act('escalated', {}) }, 'Escalate')),
    h('div', { class: 'row' },
      reason,
      h('button', { id: 'btn-dismiss', onclick: () => act('dismissed', { reason: reason.value }) }, 'Dismiss'),
      a.state !== 'new' ? h('button', { id: 'btn-reopen', class: 'link', onclick: () => act('new', {}) }, 'Reopen') : ''),
    msg);
}

function caseForm(a, refresh) {
  const msg = h('div', { class: 'form-msg', role: 'status' });
  const title = h('input', { id: 'case-title', placeholder: 'New case title', maxlength: 200 });
  const existing = h('input', { id: 'case-id', placeholder: 'Case number', size: 8 });
  return h('div', { class: 'triage' },
    h('div', { class: 'row' }, title,
      h('button', { id: 'btn-new-case', onclick: async () => {
        try {
          const c = await api('/v1/console/cases', { title: title.value, alert: a.id });
          location.hash = `#/cases/${c.id}`;
        } catch (e) { msg.textContent = e.message; msg.className = 'form-msg bad'; }
      } }, 'Open a case with this alert')),
    h('div', { class: 'row' }, existing,
      h('button', { id: 'btn-add-case', onclick: async () => {
        try {
          await api(`/v1/console/cases/${encodeURIComponent(existing.value)}/alerts`, { alert: a.id });
          await refresh();
        } catch (e) { msg.textContent = e.message; msg.className = 'form-msg bad'; }
      } }, 'Add to case')),
    msg);
}

export async function alertView(main, { params, session }) {
  const id = params[0];
  const refresh = async () => {
    const a = await api(`/v1/console/alerts/${encodeURIComponent(id)}`);
    const canTriage = session.role === 'investigator' || session.role === 'supervisor';
    const evRows = a.event_details.map((e) => h('tr', {},
      h('td', { class: 'nowrap' }, when(e.ts)), h('td', {}, e.id), h('td', {}, officerLink(e.officer)),
      h('td', {}, e.action), h('td', {}, e.record || '—'), h('td', {}, e.case || h('span', { class: 'missing' }, 'none')),
      h('td', {}, e.purpose || ''), h('td', {}, badge(e.outcome))));
    const hist = a.history.map((x) => h('li', {}, `${when(x.ts)} — ${x.user}: ${x.from} → ${x.to}`,
      x.assignee ? ` (to ${x.assignee})` : '', x.reason ? ` — “${x.reason}”` : ''));
    clear(main).append(
      h('div', { class: 'page-head' },
        h('a', { href: '#/alerts', class: 'back' }, '← Alert queue'),
        h('h1', {}, `Alert ${a.id} `, badge(a.state)),
        h('p', { class: 'sub' }, `${a.kind} · score ${Math.round(a.score * 100)} · raised ${when(a.raised_at)}`,
          a.assignee ? ` · assigned to ${a.assignee}` : '')),
      h('div', { class: 'cols' },
        h('section', { class: 'card wide' },
          h('h2', {}, 'Why this alert was raised'),
          h('ol', { class: 'reasons' }, a.reasons.map((r) => h('li', {}, r))),
          h('h2', {}, 'Who and whom'),
          h('p', {}, 'Officers: ', a.officers.map((o, i) => [i ? ', ' : '', officerLink(o)]),
            ' — open an officer to see their activity against their peers.'),
          h('p', {}, 'People: ', (a.people || a.subjects.map((id) => ({ id, flags: [] }))).map((p, i) => [i ? ', ' : '', personLink(p.id),
            p.flags && p.flags.length ? h('span', { class: 'flags' }, ` (${p.flags.join(', ')})`) : '']),
            ' — open a person to see everyone who looked at them.'),
          h('p', {}, h('a', { href: `#/graph?alert=${encodeURIComponent(a.id)}`, id: 'alert-graph' }, 'Show this alert in the network graph')),
          h('h2', {}, `Events (${a.event_details.length} of ${a.nevents})`),
          table(['Time', 'Event', 'Officer', 'Action', 'Record', 'Case', 'Purpose', 'Outcome'], evRows, { empty: 'The events are not in the store.' })),
        h('aside', { class: 'card side' },
          h('h2', {}, 'Triage'),
          a.state_reason ? h('p', { class: 'state-reason' }, `Reason: ${a.state_reason}`) : '',
          canTriage ? triageForm(a, refresh) : h('p', { class: 'fine' }, 'Your role can read alerts but not change them.'),
          h('h2', {}, 'Cases'),
          a.cases.length ? h('ul', {}, a.cases.map((c) => h('li', {}, h('a', { href: `#/cases/${c.id}` }, `Case ${c.id}: ${c.title}`)))) : h('p', { class: 'fine' }, 'In no case yet.'),
          canTriage ? caseForm(a, refresh) : '',
          h('h2', {}, 'History'),
          hist.length ? h('ul', { class: 'history' }, hist) : h('p', { class: 'fine' }, 'No changes yet.'))));
  };
  await refresh();
}

export { errorBox };
