// Vetting and access governance: the report by unit (in-date vetting,
// expiries in the next 90 days, overdue reviews and recertifications) at a
// chosen date, with totals and a CSV download (the same CSV as
// `custos vetting report --csv`).  Counts only: no person is named here.
import { h, clear, api, qs, table } from '../ui.js';

const COLS = [
  ['workforce', 'Workforce'],
  ['in_date', 'In-date vetting'],
  ['in_date_pct', 'Share in date (%)'],
  ['expiring_90d', 'Expiring in 90 days'],
  ['overdue_reviews', 'Overdue reviews'],
  ['overdue_recertifications', 'Overdue recertifications'],
];

const fmt = (k, v) => (k === 'in_date_pct' ? Number(v).toFixed(1) : String(v));

export async function governanceView(main, { query }) {
  const at = query.get('at') || new Date().toISOString().slice(0, 10);
  const d = await api(`/v1/console/governance/report${qs({ at })}`);
  const date = h('input', { id: 'gov-at', type: 'date', value: at });
  const row = (r, total) => h('tr', { class: total ? 'total' : '', dataset: { unit: r.unit } },
    h('td', {}, total ? 'All units' : r.unit), COLS.map(([k]) => h('td', { class: `num ${k}`, dataset: { col: k } }, fmt(k, r[k]))));
  const t = d.total || { unit: 'ALL', workforce: 0, in_date: 0, in_date_pct: 0, expiring_90d: 0, overdue_reviews: 0, overdue_recertifications: 0 };
  const card = (id, label, value, warn) => h('div', { class: `stat card${warn ? ' warn' : ''}`, id },
    h('div', { class: 'stat-value' }, value), h('div', { class: 'stat-label' }, label));
  const tbl = table(['Unit', ...COLS.map(([, l]) => l)], [...d.units.map((r) => row(r, false)), row(t, true)],
    { empty: 'No staff in the register.' });
  tbl.id = 'gov-report';
  clear(main).append(
    h('div', { class: 'page-head' }, h('h1', {}, 'Vetting and access governance'),
      h('p', { class: 'sub' }, `The register at ${d.at.slice(0, 10)}: staff in service by unit, and whose vetting is in date, about to expire, or overdue for review or recertification.`)),
    h('div', { class: 'row card' },
      h('label', { for: 'gov-at' }, 'Report date '), date,
      h('button', { class: 'primary', id: 'gov-show', onclick: () => { location.hash = `#/governance${qs({ at: date.value })}`; } }, 'Show'),
      h('a', { class: 'button', id: 'gov-csv', href: `/v1/console/governance/report${qs({ at, format: 'csv' })}`, download: `vetting-report-${at}.csv` }, 'Download CSV')),
    h('div', { class: 'stats' },
      card('stat-in-date', 'Workforce with in-date vetting', `${fmt('in_date_pct', t.in_date_pct)}% (${t.in_date} of ${t.workforce})`, t.in_date < t.workforce),
      card('stat-expiring', 'Expiries in the next 90 days', String(t.expiring_90d), t.expiring_90d > 0),
      card('stat-reviews', 'Overdue reviews', String(t.overdue_reviews), t.overdue_reviews > 0),
      card('stat-recerts', 'Overdue recertifications', String(t.overdue_recertifications), t.overdue_recertifications > 0)),
    tbl);
}
