// Who looked at this person: every access in the event index, explained by
// a case or not, and every console user who opened this page.
import { h, clear, api, when, badge, officerLink, table } from '../ui.js';

export async function personView(main, { params }) {
  const id = params[0];
  const d = await api(`/v1/console/persons/${encodeURIComponent(id)}/accesses`);
  const p = d.person;
  const rows = d.accesses.map((e) => h('tr', { class: e.explained ? '' : 'unexplained' },
    h('td', { class: 'nowrap' }, when(e.ts)), h('td', {}, officerLink(e.officer)), h('td', {}, e.action),
    h('td', {}, e.record || '—'), h('td', {}, e.case || h('span', { class: 'missing' }, 'none')), h('td', {}, e.purpose || ''),
    h('td', {}, e.explained ? badge('explained', 'ok') : badge('unexplained', 'bad')),
    h('td', { class: 'reason' }, e.explanation, e.declared_relation ? ' · the officer declared a relation with this person' : '')));
  clear(main).append(
    h('div', { class: 'page-head' },
      h('a', { href: '#/alerts', class: 'back' }, '← Alert queue'),
      h('h1', {}, `Who looked at ${p.id}`),
      h('p', { class: 'sub' }, `Area ${p.area || '—'} · `, p.flags.length ? ['on the protected-person register: ', p.flags.map((f) => badge(f, 'flag'))] : 'not on the protected-person register')),
    h('div', { class: 'summary', id: 'access-summary' },
      h('strong', {}, `${d.total} access${d.total === 1 ? '' : 'es'}`), `, of which `,
      h('strong', { class: d.unexplained ? 'bad' : '' }, `${d.unexplained} not explained`), ' by a case that links this person and an assignment of the officer to it.'),
    p.declared_relations.length ? h('section', { class: 'card' }, h('h2', {}, 'Declared relations'),
      h('ul', {}, p.declared_relations.map((r) => h('li', {}, officerLink(r.officer), ` — ${r.type}`)))) : '',
    h('section', { class: 'card' }, h('h2', {}, 'Accesses in the record systems (newest first)'),
      table(['Time', 'Officer', 'Action', 'Record', 'Case', 'Purpose', 'Explained', 'Why'], rows, { empty: 'Nobody has looked at this person.' })),
    h('section', { class: 'card' }, h('h2', {}, 'Console users who opened this page'),
      table(['Time', 'User', 'Role'], d.console_views.map((v) => h('tr', {}, h('td', {}, when(v.ts)), h('td', {}, v.user), h('td', {}, v.role))),
        { empty: 'No one before you.' })));
}
