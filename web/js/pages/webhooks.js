// A team's webhooks (team admins; platform admins see every team's): register one, send it a
// test, remove it, and read its delivery log (every attempt, newest first).

import {get, post, del, enc} from '../api.js';
import {currentUser, roleIn, visibleTeams, title, failure, notFound} from '../app.js';
import {h, clear, field, select, badge, showError, clearErrors, table, time, button} from '../dom.js';
import {navigate} from '../router.js';

export const EVENTS = [
  ['operation.failed', 'An operation failed'],
  ['operation.succeeded', 'An operation succeeded'],
  ['operation.cancelled', 'An operation was cancelled'],
  ['cluster.created', 'A cluster is ready'],
  ['cluster.deleted', 'A cluster was deleted'],
  ['quota_request.created', 'A quota request was filed'],
  ['quota_request.approved', 'A quota request was approved'],
  ['quota_request.rejected', 'A quota request was rejected'],
  ['quota.nearly_full', 'The team passed 90 % of a limit'],
  ['webhook.disabled', 'A webhook was disabled after failing for 24 h'],
];

function canManage(team) {
  const me = currentUser();
  return Boolean(me && (me.is_admin || roleIn(team) === 'admin'));
}

export async function webhooksPage(ctx) {
  let teams;
  try {
    teams = (await visibleTeams(ctx.signal)).filter(canManage);
  } catch (e) {
    return failure(ctx, e);
  }
  const team = ctx.params.team;
  if (!team) {
    if (teams.length) return navigate(`/webhooks/${enc(teams[0])}`, {replace: true});
    title(ctx, 'Webhooks');
    ctx.main.append(h('section', {class: 'empty'}, h('h2', {}, 'No team to manage'),
      h('p', {}, 'Webhooks belong to teams and are managed by their admins.')));
    return;
  }
  if (!canManage(team)) return notFound(ctx, 'team');

  let hooks;
  try {
    hooks = (await get(`/teams/${enc(team)}/webhooks`, {signal: ctx.signal})).items;
  } catch (e) {
    if (e.name === 'AbortError') return;
    if (e.status === 404) return notFound(ctx, 'team');
    return failure(ctx, e);
  }
  const switcher = teams.length > 1
    ? field('Team', 'team-switch', select(teams, {value: team, onchange: (e) => navigate(`/webhooks/${enc(e.target.value)}`)}))
    : null;
  title(ctx, `Webhooks of ${team}`, switcher);

  const list = h('section', {class: 'card', 'aria-labelledby': 'hooks-title'});
  const log = h('section', {class: 'card', 'aria-labelledby': 'log-title', hidden: true});
  const side = h('div', {class: 'detail-side'}, addForm());
  ctx.main.append(h('div', {class: 'detail-grid'}, h('div', {class: 'detail-main'}, list, log), side));

  let shown = null; // the webhook whose delivery log is open
  let timer = null;
  ctx.onLeave(() => clearTimeout(timer));

  async function reload() {
    hooks = (await get(`/teams/${enc(team)}/webhooks`, {signal: ctx.signal})).items;
    drawList();
  }

  function drawList() {
    clear(list, h('h2', {id: 'hooks-title'}, 'Webhooks'),
      hooks.length === 0 ? h('p', {class: 'muted'}, 'No webhooks yet: add one to hear about this team in your chat.') : table(
        ['URL', 'Format', 'Events', 'Signed', 'State', ''],
        hooks.map((w) => [w.url, w.format, w.events.join(', '), w.signed ? 'yes' : 'no',
          w.enabled ? badge('enabled') : h('span', {}, badge('disabled'), ' ', w.disabled_reason),
          h('div', {class: 'actions'},
            button('Test', {onclick: () => test(w)}),
            button('Deliveries', {onclick: () => showLog(w)}),
            button('Remove', {class: 'btn btn-danger', onclick: () => remove(w)}))]),
        {class: 'webhooks'}));
  }

  async function test(w) {
    try {
      await post(`/webhooks/${enc(w.id)}/test`, {});
      await showLog(w);
    } catch (e) {
      if (e.name !== 'AbortError') list.append(h('p', {class: 'notice notice-error'}, e.message));
    }
  }

  async function remove(w) {
    if (!confirm(`Remove the webhook to ${w.url}? Its pending notifications and delivery log go with it.`)) return;
    try {
      await del(`/webhooks/${enc(w.id)}`);
      if (shown && shown.id === w.id) {
        shown = null;
        log.hidden = true;
      }
      await reload();
    } catch (e) {
      if (e.name !== 'AbortError') list.append(h('p', {class: 'notice notice-error'}, e.message));
    }
  }

  // The delivery log of `w`, looked at again every 3 s while it is open.
  async function showLog(w) {
    shown = w;
    clearTimeout(timer);
    const items = (await get(`/webhooks/${enc(w.id)}/deliveries`, {signal: ctx.signal})).items;
    if (!shown || shown.id !== w.id) return;
    log.hidden = false;
    clear(log, h('h2', {id: 'log-title'}, `Deliveries to ${w.url}`),
      items.length === 0 ? h('p', {class: 'muted'}, 'No attempts yet.') : table(
        ['At', 'Event', 'Attempt', 'Status', 'Error', 'Next retry'],
        items.map((d) => [time(d.at), d.type, String(d.attempt),
          d.status_code === null ? '—' : String(d.status_code), d.error || '',
          d.next_retry_at ? time(d.next_retry_at) : '']),
        {class: 'deliveries'}));
    timer = setTimeout(() => {
      if (ctx.active && shown && shown.id === w.id) showLog(w).catch(() => {});
    }, 3000);
  }

  function addForm() {
    const url = h('input', {type: 'url', maxlength: 1000, placeholder: 'https://chat.example.com/hooks/…'});
    const format = select([['slack', 'Slack ({"text": …})'], ['json', 'JSON (the structured event)']]);
    const secret = h('input', {type: 'password', maxlength: 256, autocomplete: 'new-password'});
    const boxes = EVENTS.map(([value, label]) => {
      const input = h('input', {type: 'checkbox', value, checked: value === 'operation.failed'});
      return h('label', {class: 'check'}, input, ' ', label);
    });
    const err = h('p', {class: 'form-error', role: 'alert'});
    const form = h('form', {class: 'card', novalidate: true, 'aria-labelledby': 'add-title'},
      h('h2', {id: 'add-title'}, 'Add a webhook'),
      field('URL', 'url', url, 'http or https; kaas posts each event there.'),
      field('Format', 'format', format),
      h('fieldset', {'data-field': 'events'}, h('legend', {}, 'Events'), boxes),
      field('Secret (optional)', 'secret', secret, 'Signs each post: X-Kaas-Signature: sha256=HMAC of the body.'),
      err,
      h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'btn btn-primary'}, 'Add webhook')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(form);
      err.textContent = '';
      const events = boxes.map((b) => b.querySelector('input')).filter((i) => i.checked).map((i) => i.value);
      const body = {url: url.value.trim(), format: format.value, events};
      if (secret.value) body.secret = secret.value;
      const btn = form.querySelector('button[type=submit]');
      btn.disabled = true;
      try {
        await post(`/teams/${enc(team)}/webhooks`, body);
        url.value = '';
        secret.value = '';
        await reload();
      } catch (e2) {
        if (e2.name !== 'AbortError') showError(form, e2, err);
      } finally {
        btn.disabled = false;
      }
    });
    return form;
  }

  drawList();
}
