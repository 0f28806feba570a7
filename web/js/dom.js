// DOM helpers: one element factory, form fields with labels and error slots, formatting.
// Everything the portal shows is built with h(); text always goes in as text nodes, never
// as HTML, so API data cannot inject markup.

// h('a', {href: '/x', class: 'btn', onclick: fn}, 'text', child, [more, children])
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  let value;
  for (const [key, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (key === 'value') {
      value = v; // after the children, so that a <select> has its options first
    } else if (key.startsWith('on') && typeof v === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), v);
    } else if (key === 'class') {
      el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    } else if (key === 'checked' || key === 'selected') {
      el[key] = Boolean(v);
    } else {
      el.setAttribute(key, v === true ? '' : String(v));
    }
  }
  append(el, children);
  if (value !== undefined) el.value = String(value);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false || c === '') continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let uid = 0;
const idFor = (name) => `f-${String(name).replace(/[^a-zA-Z0-9_-]/g, '-')}-${++uid}`;

// A labelled form field with a hint and an error slot that setFieldError() fills.
// `name` is the API's field name (details.field), e.g. "workers.count".
export function field(label, name, control, hint) {
  const id = control.id || (control.id = idFor(name));
  const errId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  control.dataset.field = name;
  control.setAttribute('aria-describedby', [hintId, errId].filter(Boolean).join(' '));
  return h('div', {class: 'field', 'data-field-wrap': name},
    h('label', {for: id}, label),
    control,
    hint ? h('p', {class: 'hint', id: hintId}, hint) : null,
    h('p', {class: 'field-error', id: errId, 'data-error-for': name, role: 'alert'}));
}

// Shows `message` next to the control named `name` inside `scope`; false when there is no
// such field (the caller then shows the message at the form level).
export function setFieldError(scope, name, message) {
  const slot = scope.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
  if (!slot) return false;
  slot.textContent = message;
  const control = scope.querySelector(`[data-field="${CSS.escape(name)}"]`);
  if (control) control.setAttribute('aria-invalid', 'true');
  return true;
}

export function clearErrors(scope) {
  for (const slot of scope.querySelectorAll('[data-error-for]')) slot.textContent = '';
  for (const c of scope.querySelectorAll('[aria-invalid]')) c.removeAttribute('aria-invalid');
}

// Puts an API error where it belongs: next to the field it names (details.field), else in
// `fallback` (an element with role=alert).
export function showError(scope, err, fallback) {
  const f = err && err.details && err.details.field;
  if (f && setFieldError(scope, f, err.message)) {
    if (fallback) fallback.textContent = '';
    return;
  }
  if (fallback) fallback.textContent = err ? err.message : '';
}

export function select(options, attrs = {}) {
  return h('select', attrs, options.map((o) => {
    const [value, label] = Array.isArray(o) ? o : [o, o];
    return h('option', {value}, label);
  }));
}

export function button(label, attrs = {}) {
  return h('button', {type: 'button', class: 'btn', ...attrs}, label);
}

// A status pill. Operations pass kind 'op': their "running" is progress (blue), a
// cluster's "running" is health (green).
export function badge(status, kind = '') {
  const cls = `badge badge-${kind ? `${kind}-` : ''}${status || 'unknown'}`;
  return h('span', {class: cls}, status || 'unknown');
}

// A usage-vs-limit bar; `used` over `limit` turns it red.
export function bar(label, used, limit, unit = '') {
  const pct = limit > 0 ? Math.min(100, Math.round((used / limit) * 100)) : used > 0 ? 100 : 0;
  const fill = h('span', {class: 'bar-fill'});
  fill.style.width = `${pct}%`;
  const level = pct >= 100 ? 'full' : pct >= 80 ? 'high' : 'ok';
  return h('div', {class: `bar bar-${level}`},
    h('div', {class: 'bar-label'}, h('span', {}, label),
      h('span', {class: 'bar-num'}, `${used}${unit} / ${limit}${unit}`)),
    h('div', {class: 'bar-track', role: 'meter', 'aria-label': label, 'aria-valuemin': 0,
      'aria-valuemax': limit, 'aria-valuenow': used, 'aria-valuetext': `${used} of ${limit}${unit}`},
    fill));
}

export function table(columns, rows, attrs = {}) {
  return h('div', {class: 'table-wrap'},
    h('table', {class: ['stack', attrs.class].filter(Boolean).join(' ')},
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', {scope: 'col'}, c)))),
      h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((c, i) =>
        h('td', {'data-label': columns[i]}, c)))))));
}

export function time(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return h('time', {datetime: iso, title: iso}, d.toLocaleString());
}

export function ago(iso) {
  if (!iso) return '';
  const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export function duration(startIso, endIso) {
  if (!startIso) return '';
  const end = endIso ? new Date(endIso).getTime() : Date.now();
  const ms = Math.max(0, end - new Date(startIso).getTime());
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

export const kindLabel = (kind) => (kind === 'physical' ? 'physical' : kind === 'vm' ? 'VM' : kind || '');

export function mastersText(m) {
  if (!m) return '';
  return `${m.count} × ${m.flavor} · ${kindLabel(m.kind)}`;
}

export function workersText(w) {
  if (!w) return '';
  if (!w.count) return 'none';
  return `${w.count} × ${w.flavor || 'physical host'} · ${kindLabel(w.kind)}`;
}
