// The custos investigator console: a single-page app on the daemon's
// /v1/console API.  Hash routes (#/alerts, #/alerts/A1, #/officers/OF-..,
// #/persons/P1, #/graph, #/cases, #/cases/1, #/unmask, #/audit,
// #/accounts); every view loads its data through the API, and the daemon
// records each of those requests in the ledger.
import { h, clear, api, setCsrf, errorBox } from './ui.js';
import { alertsView, alertView } from './views/alerts.js';
import { timelineView } from './views/timeline.js';
import { personView } from './views/person.js';
import { graphView } from './views/graph.js';
import { casesView, caseView } from './views/cases.js';
import { unmaskView, auditView, accountsView } from './views/admin.js';
import { governanceView } from './views/governance.js';

const root = document.getElementById('app');
let session = null;

const NAV = [
  { href: '#/alerts', label: 'Alert queue', roles: ['investigator', 'supervisor', 'auditor'] },
  { href: '#/cases', label: 'Cases', roles: ['investigator', 'supervisor', 'auditor'] },
  { href: '#/graph', label: 'Network', roles: ['investigator', 'supervisor', 'auditor'] },
  { href: '#/unmask', label: 'Unmasking', roles: ['investigator', 'supervisor', 'auditor'] },
  { href: '#/governance', label: 'Vetting', roles: ['vetting', 'supervisor', 'auditor', 'admin'] },
  { href: '#/audit', label: 'Console audit', roles: ['supervisor', 'auditor', 'admin'] },
  { href: '#/accounts', label: 'Accounts', roles: ['admin'] },
];

function loginView(message) {
  const user = h('input', { id: 'login-user', name: 'user', autocomplete: 'username', required: true });
  const pw = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const err = h('div', { class: 'login-error', role: 'alert' }, message || '');
  const form = h('form', { class: 'login', onsubmit: async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    try {
      const s = await api('/v1/console/login', { user: user.value, password: pw.value });
      pw.value = '';
      start(s);
    } catch (e) {
      err.textContent = e.message;
    }
  } },
  h('h1', {}, 'custos'),
  h('p', { class: 'sub' }, 'Investigator console'),
  h('label', { for: 'login-user' }, 'User name'), user,
  h('label', { for: 'login-password' }, 'Password'), pw,
  h('button', { type: 'submit', class: 'primary' }, 'Log in'),
  err,
  h('p', { class: 'fine' }, 'Every page you open and every search you run here is recorded in the tamper-evident audit log.'));
  clear(root).append(h('div', { class: 'login-page' }, form));
  user.focus();
}

function shell() {
  const links = NAV.filter((n) => n.roles.includes(session.role))
    .map((n) => h('a', { href: n.href, class: 'nav-link', dataset: { route: n.href } }, n.label));
  const main = h('main', { id: 'view' });
  clear(root).append(
    h('header', { class: 'top' },
      h('a', { class: 'brand', href: '#/' }, 'custos'),
      h('nav', {}, links),
      h('div', { class: 'who' },
        h('span', { class: 'user', id: 'who-user' }, session.user),
        h('span', { class: `role role-${session.role}` }, session.role),
        h('button', { class: 'link', id: 'logout', onclick: logout }, 'Log out'))),
    main);
  return main;
}

async function logout() {
  try { await api('/v1/console/logout', {}); } catch { /* the session may be gone already */ }
  session = null;
  setCsrf('');
  location.hash = '';
  loginView('You have logged out.');
}

const ROUTES = [
  [/^#\/alerts\/([^/]+)$/, alertView],
  [/^#\/alerts$/, alertsView],
  [/^#\/officers\/([^/]+)$/, timelineView],
  [/^#\/persons\/([^/]+)$/, personView],
  [/^#\/graph$/, graphView],
  [/^#\/cases\/(\d+)$/, caseView],
  [/^#\/cases$/, casesView],
  [/^#\/unmask$/, unmaskView],
  [/^#\/audit$/, auditView],
  [/^#\/accounts$/, accountsView],
  [/^#\/governance$/, governanceView],
];

async function route() {
  if (!session) return;
  let hash = location.hash.split('?')[0];
  if (!ROUTES.some(([re]) => re.test(hash))) {
    hash = session.role === 'admin' ? '#/accounts' : session.role === 'vetting' ? '#/governance' : '#/alerts';
    history.replaceState(null, '', hash);
  }
  const main = document.getElementById('view') || shell();
  for (const a of document.querySelectorAll('.nav-link'))
    a.classList.toggle('active', hash.startsWith(a.dataset.route));
  for (const [re, view] of ROUTES) {
    const m = hash.match(re);
    if (!m) continue;
    clear(main).append(h('p', { class: 'loading' }, 'Loading…'));
    try {
      await view(main, { session, params: m.slice(1).map(decodeURIComponent), query: new URLSearchParams(location.hash.split('?')[1] || '') });
    } catch (e) {
      if (e.status !== 401) clear(main).append(errorBox(e));
    }
    return;
  }
}

function start(s) {
  session = s;
  setCsrf(s.csrf);
  shell();
  route();
}

window.addEventListener('hashchange', route);
window.addEventListener('custos-logged-out', (ev) => {
  session = null;
  loginView(ev.detail === 'not logged in, or the session has ended' ? 'Your session has ended. Please log in again.' : ev.detail);
});

api('/v1/console/session').then(start).catch(() => loginView(''));
