// Unmask approvals, the console's own audit trail, and accounts.
import { h, clear, api, when, badge, officerLink, table } from '../ui.js';

export async function unmaskView(main, { session }) {
  const d = await api('/v1/console/unmask');
  const msg = h('div', { class: 'form-msg', role: 'status', id: 'unmask-msg' });
  const decide = async (u, verb) => {
    try {
      await api(`/v1/console/unmask/${u.id}/${verb}`, {});
      await unmaskView(main, { session });
    } catch (e) { msg.textContent = e.message; msg.className = 'form-msg bad'; }
  };
  const rows = d.requests.map((u) => h('tr', { dataset: { request: String(u.id) } },
    h('td', {}, String(u.id)), h('td', {}, h('a', { href: `#/cases/${u.case}` }, `Case ${u.case}: ${u.case_title}`)),
    h('td', {}, officerLink(u.officer)), h('td', { class: 'reason' }, u.reason), h('td', {}, u.requested_by),
    h('td', { class: 'nowrap' }, when(u.requested_at)), h('td', {}, badge(u.state), u.decided_by ? h('div', { class: 'fine' }, `by ${u.decided_by}`) : ''),
    h('td', {}, d.can_decide && u.state === 'pending' ? [
      h('button', { class: 'primary small approve', disabled: u.requested_by === session.user, title: u.requested_by === session.user ? 'Nobody approves their own request' : '', onclick: () => decide(u, 'approve') }, 'Approve'),
      h('button', { class: 'small refuse', disabled: u.requested_by === session.user, onclick: () => decide(u, 'refuse') }, 'Refuse')] : '')));
  clear(main).append(
    h('div', { class: 'page-head' }, h('h1', {}, 'Unmasking requests'),
      h('p', { class: 'sub' }, d.can_decide ? 'As a supervisor you may approve or refuse requests made by others.' : 'Only a supervisor, other than the one who asked, can approve.')),
    msg,
    table(['#', 'Case', 'Officer', 'Reason', 'Asked by', 'Asked', 'State', ''], rows, { empty: 'No requests.' }));
}

export async function auditView(main) {
  const d = await api('/v1/console/audit?limit=300');
  clear(main).append(
    h('div', { class: 'page-head' }, h('h1', {}, 'Console audit'),
      h('p', { class: 'sub' }, 'Every console request, as appended to the ledger (newest first). The watchers are watched.')),
    table(['Ledger #', 'Time', 'User', 'Role', 'Request', 'Status', 'What changed'], d.audit.map((a) => h('tr', {},
      h('td', {}, String(a.ledger_index)), h('td', { class: 'nowrap' }, when(a.ts)), h('td', {}, a.user || '—'), h('td', {}, a.role || ''),
      h('td', { class: 'mono' }, `${a.method} ${a.route}${a.query ? `?${a.query}` : ''}`),
      h('td', {}, badge(String(a.status), a.status < 400 ? 'ok' : 'bad')), h('td', { class: 'reason' }, a.action || ''))), { empty: 'Nothing yet.' }));
}

export async function accountsView(main) {
  const d = await api('/v1/console/accounts');
  const user = h('input', { id: 'acct-user', placeholder: 'user name' });
  const role = h('select', { id: 'acct-role' }, ['investigator', 'supervisor', 'auditor', 'admin', 'vetting'].map((r) => h('option', { value: r }, r)));
  const pw = h('input', { id: 'acct-password', type: 'password', placeholder: 'initial password (8+ characters)', autocomplete: 'new-password' });
  const msg = h('div', { class: 'form-msg', role: 'status' });
  clear(main).append(
    h('div', { class: 'page-head' }, h('h1', {}, 'Accounts')),
    h('div', { class: 'row card' }, user, role, pw, h('button', { class: 'primary', onclick: async () => {
      try { await api('/v1/console/accounts', { user: user.value, role: role.value, password: pw.value }); await accountsView(main); } catch (e) { msg.textContent = e.message; msg.className = 'form-msg bad'; }
    } }, 'Add account'), msg),
    table(['User', 'Role', 'Created', 'Recent failed logins', 'Locked'], d.accounts.map((a) => h('tr', {},
      h('td', {}, a.user), h('td', {}, a.role), h('td', {}, when(a.created)), h('td', {}, String(a.recent_failures)),
      h('td', {}, a.locked ? badge('locked', 'bad') : '')))));
}

export { officerLink };
