// An officer's timeline: activity by hour of day, by weekday and by day
// against the mean of their peer group, anomalies marked in red; their
// alerts and their events.
import { Chart, BarController, BarElement, LineController, LineElement, PointElement, CategoryScale, LinearScale, Legend, Tooltip } from 'chart.js';
import { h, clear, api, qs, when, badge, table } from '../ui.js';

Chart.register(BarController, BarElement, LineController, LineElement, PointElement, CategoryScale, LinearScale, Legend, Tooltip);

const OFFICER = '#2b5d8a';
const ANOMALY = '#c0392b';
const PEER = '#9aa5b1';

function barChart(canvas, labels, rows, title) {
  return new Chart(canvas, {
    type: 'bar',
    data: {
      labels,
      datasets: [
        { label: 'This officer', data: rows.map((r) => r.officer), backgroundColor: rows.map((r) => (r.anomalous ? ANOMALY : OFFICER)) },
        { label: 'Peer mean', data: rows.map((r) => r.peer_mean), backgroundColor: PEER },
      ],
    },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false,
      plugins: { legend: { position: 'bottom' }, title: { display: !!title, text: title } },
      scales: { y: { beginAtZero: true, title: { display: true, text: 'events' } } },
    },
  });
}

function lineChart(canvas, rows) {
  return new Chart(canvas, {
    type: 'line',
    data: {
      labels: rows.map((r) => r.date.slice(5)),
      datasets: [
        { label: 'This officer', data: rows.map((r) => r.officer), borderColor: OFFICER, backgroundColor: OFFICER,
          pointBackgroundColor: rows.map((r) => (r.anomalous ? ANOMALY : OFFICER)), pointRadius: rows.map((r) => (r.anomalous ? 6 : 2)), tension: 0.2 },
        { label: 'Peer mean', data: rows.map((r) => r.peer_mean), borderColor: PEER, backgroundColor: PEER, borderDash: [4, 4], pointRadius: 0 },
      ],
    },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false,
      plugins: { legend: { position: 'bottom' } },
      scales: { y: { beginAtZero: true, title: { display: true, text: 'events per day' } } },
    },
  });
}

export async function timelineView(main, { params, query }) {
  const id = params[0];
  const days = query.get('days') || 28;
  const t = await api(`/v1/console/officers/${encodeURIComponent(id)}/timeline${qs({ days })}`);
  const anomalousHours = t.hours.filter((x) => x.anomalous).map((x) => `${String(x.hour).padStart(2, '0')}:00`);
  const anomalousDays = t.days.filter((x) => x.anomalous).map((x) => x.date);
  const hoursCanvas = h('canvas', { id: 'chart-hours', 'aria-label': 'events by hour of day' });
  const wdCanvas = h('canvas', { id: 'chart-weekdays', 'aria-label': 'events by weekday' });
  const daysCanvas = h('canvas', { id: 'chart-days', 'aria-label': 'events per day' });
  const o = t.officer;
  const evRows = t.events.slice().reverse().slice(0, 100).map((e) => {
    const hr = Number(e.ts.slice(11, 13));
    const odd = t.hours[hr] && t.hours[hr].anomalous;
    return h('tr', { class: odd ? 'anomalous' : '' },
      h('td', { class: 'nowrap' }, when(e.ts)), h('td', {}, e.id), h('td', {}, e.action), h('td', {}, e.record || '—'),
      h('td', {}, e.case || h('span', { class: 'missing' }, 'none')), h('td', {}, e.purpose || ''), h('td', {}, badge(e.outcome)));
  });
  clear(main).append(
    h('div', { class: 'page-head' },
      h('a', { href: '#/alerts', class: 'back' }, '← Alert queue'),
      h('h1', {}, 'Officer ', h('span', { class: o.unmasked ? 'officer unmasked' : 'officer', id: 'officer-name' }, o.id)),
      h('p', { class: 'sub' }, `${o.role} · ${o.unit} · area ${o.area} · ${o.shift} shift · `,
        `compared with ${t.peer_group.size} peers (same ${t.peer_group.basis}) · ${when(t.from)} to ${when(t.to)}`),
      h('div', { class: 'range' }, [7, 28, 90].map((d) => h('a', { href: `#/officers/${encodeURIComponent(id)}?days=${d}`, class: Number(days) === d ? 'active' : '' }, `${d} days`)))),
    h('div', { class: 'summary', id: 'anomaly-summary' },
      anomalousHours.length || anomalousDays.length
        ? [h('strong', {}, 'Unusual activity: '),
          anomalousHours.length ? `busy at ${anomalousHours.join(', ')} when peers are not` : '',
          anomalousHours.length && anomalousDays.length ? '; ' : '',
          anomalousDays.length ? `far above peers on ${anomalousDays.join(', ')}` : '',
          '. Red bars and points mark it.']
        : 'No hour or day stands out against the peer group.'),
    h('div', { class: 'charts' },
      h('section', { class: 'card chart-card' }, h('h2', {}, 'Activity by hour of day (UTC)'), h('div', { class: 'chart' }, hoursCanvas)),
      h('section', { class: 'card chart-card' }, h('h2', {}, 'Activity by weekday'), h('div', { class: 'chart' }, wdCanvas))),
    h('section', { class: 'card chart-card' }, h('h2', {}, 'Activity per day'), h('div', { class: 'chart wide' }, daysCanvas)),
    h('div', { class: 'cols' },
      h('section', { class: 'card wide' }, h('h2', {}, `Events (newest ${evRows.length})`),
        table(['Time', 'Event', 'Action', 'Record', 'Case', 'Purpose', 'Outcome'], evRows, { empty: 'No events in this period.' })),
      h('aside', { class: 'card side' }, h('h2', {}, 'Alerts about this officer'),
        t.alerts.length ? h('ul', { class: 'plain' }, t.alerts.map((a) => h('li', {},
          h('a', { href: `#/alerts/${a.id}` }, a.id), ` ${a.kind} `, badge(a.state), h('div', { class: 'fine' }, when(a.raised_at))))) : h('p', { class: 'fine' }, 'None.'))));
  barChart(hoursCanvas, t.hours.map((x) => String(x.hour).padStart(2, '0')), t.hours);
  barChart(wdCanvas, t.weekdays.map((x) => x.day), t.weekdays);
  lineChart(daysCanvas, t.days);
}
