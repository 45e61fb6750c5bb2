// The network of officers and the people they looked up, built from the
// open alerts: officers are squares, people circles; a ring (people that
// several alerted officers looked up, or an alert of a ring kind) is red.
import cytoscape from 'cytoscape';
import { h, clear, api, qs } from '../ui.js';

export async function graphView(main, { query }) {
  const officer = query.get('officer') || '';
  const alert = query.get('alert') || '';
  const g = await api(`/v1/console/graph${qs({ officer, alert })}`);
  const box = h('div', { id: 'graph', class: 'graph' });
  const info = h('div', { class: 'graph-info', id: 'graph-info' }, 'Click a node to open it.');
  const rings = g.nodes.filter((n) => n.ring);
  clear(main).append(
    h('div', { class: 'page-head' },
      h('h1', {}, 'Network of officers and people'),
      h('p', { class: 'sub' }, alert ? [h('a', { href: `#/alerts/${encodeURIComponent(alert)}` }, `Alert ${alert}`), ': its officers and people, and everyone else who looked up the same people. ']
        : officer ? `Alerts naming ${officer}, and everyone else who looked up the same people. ` : 'Open alerts, and everyone else who looked up the same people. ',
        officer || alert ? h('a', { href: '#/graph' }, 'Show all open alerts') : '')),
    h('div', { class: 'legend' },
      h('span', { class: 'key officer-key' }, 'officer'), h('span', { class: 'key person-key' }, 'person'),
      h('span', { class: 'key ring-key' }, 'ring'), h('span', { class: 'key alert-key' }, 'in an alert'),
      h('span', { id: 'ring-count' }, rings.length ? `${rings.length} nodes in rings` : 'no rings found')),
    h('div', { class: 'graph-wrap card' }, box, info));
  const cy = cytoscape({
    container: box,
    elements: [
      ...g.nodes.map((n) => ({ data: { ...n } })),
      ...g.edges.map((e, i) => ({ data: { id: `e${i}`, ...e, w: Math.max(1, Math.min(8, e.weight || 1)) } })),
    ],
    style: [
      { selector: 'node', style: { label: 'data(label)', 'font-size': 11, 'text-valign': 'bottom', 'text-margin-y': 4, color: '#1f2933', width: 26, height: 26 } },
      { selector: 'node[type = "officer"]', style: { shape: 'round-rectangle', 'background-color': '#2b5d8a' } },
      { selector: 'node[type = "person"]', style: { shape: 'ellipse', 'background-color': '#7b8794' } },
      { selector: 'node[?alerted]', style: { 'border-width': 3, 'border-color': '#e0a100' } },
      { selector: 'node[?ring]', style: { 'background-color': '#c0392b', 'border-color': '#7b1d13', 'border-width': 3 } },
      { selector: 'edge', style: { width: 'data(w)', 'line-color': '#cbd2d9', 'curve-style': 'bezier' } },
      { selector: 'edge[?in_alert]', style: { 'line-color': '#e0a100' } },
      { selector: 'edge[?ring]', style: { 'line-color': '#c0392b' } },
    ],
    layout: { name: 'cose', animate: false, randomize: false, nodeRepulsion: 9000, idealEdgeLength: 90, padding: 30 },
    wheelSensitivity: 0.3,
    minZoom: 0.2,
    maxZoom: 1.4,
  });
  cy.on('tap', 'node', (ev) => {
    const d = ev.target.data();
    location.hash = d.type === 'officer' ? `#/officers/${encodeURIComponent(d.label)}` : `#/persons/${encodeURIComponent(d.label)}`;
  });
  cy.on('mouseover', 'node', (ev) => {
    const d = ev.target.data();
    info.textContent = `${d.type} ${d.label}: ${d.degree} link${d.degree === 1 ? '' : 's'}${d.ring ? ', in a ring' : ''}${d.alerted ? ', named in an alert' : ''}`;
  });
  window.custosGraph = { nodes: cy.nodes().length, edges: cy.edges().length, rings: rings.length };
}
