// Investigation cases: the list, and a case with its alerts, notes, unmask
// requests and evidence exports.
import { h, clear, api, when, badge, officerLink, personLink, table } from '../ui.js';

export async function casesView(main, { session }) {
  const d = await api('/v1/console/cases');
  const canEdit = session.role === 'investigator' || session.role === 'supervisor';
  const title = h('input', { id: 'new-case-title', placeholder: 'Title of a new case', maxlength: 200 });
  const msg = h('div', { class: 'form-msg', role: 'status' });
  clear(main).append(
    h('div', { class: 'page-head' }, h('h1', {}, 'Investigation cases'),
      h('p', { class: 'sub' }, 'A case groups alerts, notes, unmasking and exported evidence.')),
    canEdit ? h('div', { class: 'row card' }, title, h('button', { class: 'primary', id: 'btn-create-case', onclick: async () => {
      try {
        const c = await api('/v1/console/cases', { title: title.value });
        location.hash = `#/cases/${c.id}`;
      } catch (e) { msg.textContent = e.message; msg.className = 'form-msg bad'; }
    } }, 'Open a case'), msg) : '',
    table(['Case', 'Title', 'Alerts', 'Notes', 'Pending unmask', 'Opened', 'By'], d.cases.map((c) => h('tr', {},
      h('td', {}, h('a', { href: `#/cases/${c.id}` }, `Case ${c.id}`)), h('td', {}, c.title), h('td', {}, String(c.alerts)),
      h('td', {}, String(c.notes)), h('td', {}, c.pending_unmask ? badge(String(c.pending_unmask), 'pending') : '0'),
      h('td', { class: 'nowrap' }, when(c.created)), h('td', {}, c.created_by))), { empty: 'No cases yet.' }));
}

export async function caseView(main, { params, session }) {
  const id = params[0];
  const canEdit = session.role === 'investigator' || session.role === 'supervisor';
  const refresh = async () => {
    const c = await api(`/v1/console/cases/${id}`);
    const msg = h('div', { class: 'form-msg', role: 'status', id: 'case-msg' });
    const fail = (e) => { msg.textContent = e.message; msg.className = 'form-msg bad'; };
    const note = h('textarea', { id: 'note-text', rows: 3, placeholder: 'Add a note to the case' });
    const asked = new Set(c.unmask_requests.filter((u) => u.state !== 'refused').map((u) => u.officer.id));
    const who = h('select', { id: 'unmask-officer' }, c.officers.filter((o) => !o.unmasked && !asked.has(o.id)).map((o) => h('option', { value: o.id }, o.id)));
    const why = h('input', { id: 'unmask-reason', placeholder: 'Why the investigation needs the officer\'s identity', maxlength: 1024 });
    const exportMsg = h('div', { class: 'form-msg', role: 'status', id: 'export-msg' });
    clear(main).append(
      h('div', { class: 'page-head' }, h('a', { href: '#/cases', class: 'back' }, '← Cases'),
        h('h1', {}, `Case ${c.id}: ${c.title}`), h('p', { class: 'sub' }, `Opened ${when(c.created)} by ${c.created_by}`)),
      h('div', { class: 'cols' },
        h('section', { class: 'card wide' },
          h('h2', {}, 'Alerts'),
          table(['Alert', 'Kind', 'Officers', 'People', 'State'], c.alerts.map((a) => h('tr', {},
            h('td', {}, h('a', { href: `#/alerts/${a.id}` }, a.id)), h('td', {}, a.kind),
            h('td', {}, a.officers.map((o, i) => [i ? ', ' : '', officerLink(o)])),
            h('td', {}, a.subjects.map((p, i) => [i ? ', ' : '', personLink(p)])), h('td', {}, badge(a.state)))),
          { empty: 'No alerts yet: add them from an alert\'s page.' }),
          h('h2', {}, 'Notes'),
          c.notes.length ? h('ul', { class: 'notes' }, c.notes.map((n) => h('li', {}, h('div', { class: 'fine' }, `${when(n.ts)} — ${n.user}`), n.text))) : h('p', { class: 'fine' }, 'No notes.'),
          canEdit ? h('div', { class: 'row' }, note, h('button', { id: 'btn-note', onclick: async () => {
            try { await api(`/v1/console/cases/${id}/notes`, { text: note.value }); await refresh(); } catch (e) { fail(e); }
          } }, 'Add note')) : ''),
        h('aside', { class: 'card side' },
          h('h2', {}, 'Unmasking'),
          h('p', { class: 'fine' }, 'Officers stay pseudonymous until a supervisor other than the one who asks approves.'),
          c.unmask_requests.length ? h('ul', { class: 'plain', id: 'unmask-list' }, c.unmask_requests.map((u) => h('li', {},
            officerLink(u.officer), ' ', badge(u.state), h('div', { class: 'fine' }, `asked by ${u.requested_by}${u.decided_by ? `, decided by ${u.decided_by}` : ''}: ${u.reason}`)))) : '',
          canEdit && who.options.length ? h('div', { class: 'stack' }, who, why, h('button', { id: 'btn-unmask', onclick: async () => {
            try { await api(`/v1/console/cases/${id}/unmask`, { officer: who.value, reason: why.value }); await refresh(); } catch (e) { fail(e); }
          } }, 'Ask to unmask')) : '',
          msg,
          h('h2', {}, 'Evidence'),
          c.exports.length ? h('ul', { class: 'plain' }, c.exports.map((x) => h('li', {}, `${when(x.ts)} by ${x.user}: ${x.location}`))) : h('p', { class: 'fine' }, 'Nothing exported yet.'),
          canEdit ? h('button', { id: 'btn-export', onclick: async () => {
            exportMsg.textContent = 'Exporting…';
            exportMsg.className = 'form-msg';
            try {
              const r = await api(`/v1/console/cases/${id}/export`, {});
              exportMsg.textContent = `Evidence bundle written: ${r.location}`;
              exportMsg.className = 'form-msg good';
            } catch (e) { exportMsg.textContent = e.message; exportMsg.className = 'form-msg bad'; }
          } }, 'Export evidence bundle') : '',
          exportMsg)));
  };
  await refresh();
}
