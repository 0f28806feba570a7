// Cluster labels (Kubernetes key/value syntax; the API checks them): chips that show them,
// and an editor of key/value rows for the create form and the cluster page.

import {h, clear, button} from './dom.js';

const byKey = ([a], [b]) => (a < b ? -1 : a > b ? 1 : 0);

// {env: 'prod', tier: 'web'} -> "env=prod" "tier=web" chips sorted by key; `none` when there
// is no label.
export function labelChips(labels, none = '') {
  const entries = Object.entries(labels || {}).sort(byKey);
  if (entries.length === 0) return none;
  return h('ul', {class: 'labels', 'aria-label': 'Labels'},
    entries.map(([k, v]) => h('li', {class: 'label-chip'}, `${k}=${v}`)));
}

export const sameLabels = (a, b) =>
  JSON.stringify(Object.entries(a || {}).sort(byKey)) === JSON.stringify(Object.entries(b || {}).sort(byKey));

// The JSON merge patch (PATCH /clusters/{id}) from the labels `before` to `after`: changed and
// new keys with their value, removed keys with null; keys not touched are not sent.
export function labelsPatch(before, after) {
  const p = {};
  for (const k of Object.keys(before || {})) if (!(k in after)) p[k] = null;
  for (const [k, v] of Object.entries(after)) if (!before || before[k] !== v) p[k] = v;
  return p;
}

// API errors about labels name the field `labels` (a bad key) or `labels.<key>` (a bad value).
export const isLabelsField = (f) => f === 'labels' || (typeof f === 'string' && f.startsWith('labels.'));

// A fieldset of key/value rows with "Remove" buttons and "Add label". read() gives
// {labels} or, when a key is typed twice, {error}; rows with neither key nor value are left
// out, and everything else goes to the API as typed, which decides what is valid. A row
// added or removed fires "change" on the fieldset, as typing fires "input".
export function labelsEditor(labels = {}, {hint} = {}) {
  const rows = h('div', {class: 'label-rows'});
  const hintEl = hint ? h('p', {class: 'hint'}, hint) : null;
  const error = h('p', {class: 'field-error', 'data-error-for': 'labels', role: 'alert'});
  const add = button('Add label', {class: 'btn btn-small', onclick: () => {
    addRow('', '').key.focus();
    changed();
  }});
  const el = h('fieldset', {class: 'labels-editor', 'data-field': 'labels'},
    h('legend', {}, 'Labels'), hintEl, rows, h('div', {class: 'actions'}, add), error);
  let list = [];

  function changed() {
    el.dispatchEvent(new Event('change', {bubbles: true}));
  }

  function addRow(k, v) {
    const key = h('input', {value: k, autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none', placeholder: 'key'});
    const value = h('input', {value: v, autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none', placeholder: 'value'});
    const remove = button('Remove', {class: 'btn btn-small btn-quiet'});
    const row = {key, value, el: h('div', {class: 'label-row'}, key, h('span', {'aria-hidden': 'true'}, '='), value, remove)};
    remove.addEventListener('click', () => {
      const i = list.indexOf(row);
      list.splice(i, 1);
      row.el.remove();
      number();
      const next = list[i] || list[i - 1];
      (next ? next.key : add).focus();
      changed();
    });
    list.push(row);
    rows.append(row.el);
    number();
    return row;
  }

  // Names each row's controls by its place, for screen readers and for the tests.
  function number() {
    list.forEach((r, i) => {
      r.key.setAttribute('aria-label', `Label ${i + 1} key`);
      r.value.setAttribute('aria-label', `Label ${i + 1} value`);
      r.el.querySelector('button').setAttribute('aria-label', `Remove label ${i + 1}`);
    });
  }

  function set(next) {
    list = [];
    clear(rows);
    for (const [k, v] of Object.entries(next || {}).sort(byKey)) addRow(k, v);
  }

  function read() {
    const out = {};
    for (const r of list) {
      const k = r.key.value.trim();
      const v = r.value.value.trim();
      if (!k && !v) continue;
      if (k in out) return {error: {message: `label ${k} is given twice`, details: {field: 'labels'}}};
      out[k] = v;
    }
    return {labels: out};
  }

  // Shows an error of the API (or read()) under the rows; a bad value also marks its input.
  function showError(err) {
    error.textContent = err.message;
    const f = (err.details && err.details.field) || '';
    const bad = f.startsWith('labels.') && list.find((r) => r.key.value.trim() === f.slice('labels.'.length));
    (bad ? bad.value : el).setAttribute('aria-invalid', 'true');
    return true;
  }

  set(labels);
  return {el, read, set, showError};
}
