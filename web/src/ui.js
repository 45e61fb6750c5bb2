// Small DOM and API helpers.  Text always goes in as text nodes (never
// innerHTML), so nothing from the data can become markup.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

let csrf = '';
export function setCsrf(t) { csrf = t || ''; }

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// GET or POST JSON; errors become ApiError with the server's message.
export async function api(path, body) {
  const opts = { credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    opts.method = 'POST';
    opts.headers['Content-Type'] = 'application/json';
    opts.headers['X-CSRF-Token'] = csrf;
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  let data = null;
  try { data = await r.json(); } catch { /* not JSON */ }
  if (!r.ok) {
    const msg = (data && data.error) || `${r.status} ${r.statusText}`;
    if (r.status === 401) window.dispatchEvent(new CustomEvent('custos-logged-out', { detail: msg }));
    throw new ApiError(r.status, msg);
  }
  return data;
}

export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, v);
  const s = u.toString();
  return s ? `?${s}` : '';
}

export function when(iso) {
  if (!iso) return '';
  return iso.replace('T', ' ').replace('Z', ' UTC');
}

export function badge(text, kind) {
  return h('span', { class: `badge badge-${kind || text}` }, text);
}

export function officerLink(o) {
  const label = o.id;
  return h('a', { href: `#/officers/${encodeURIComponent(label)}`, class: o.unmasked ? 'officer unmasked' : 'officer',
    title: o.unmasked ? 'unmasked by an approved request' : 'pseudonym: unmasking needs a supervisor\'s approval' }, label);
}

export function personLink(p) {
  return h('a', { href: `#/persons/${encodeURIComponent(p)}`, class: 'person' }, p);
}

export function errorBox(e) {
  return h('div', { class: 'error', role: 'alert' }, e.message || String(e));
}

export function table(headers, rows, opts = {}) {
  return h('table', { class: opts.class || 'grid' },
    h('thead', {}, h('tr', {}, headers.map((x) => (x instanceof Node ? h('th', {}, x) : h('th', {}, x))))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: headers.length, class: 'empty' }, opts.empty || 'Nothing here.'))));
}
