// A team's quota: usage vs limit, quota requests (file one, see their state).

import {get, post, enc} from '../api.js';
import {canOperate, visibleTeams, title, failure, notFound} from '../app.js';
import {h, clear, bar, field, select, badge, showError, clearErrors, table, time} from '../dom.js';
import {navigate} from '../router.js';

export const LIMITS = [
  ['clusters', 'Clusters', ''],
  ['vcpus', 'vCPU', ''],
  ['memory_gib', 'Memory', ' GiB'],
  ['physical_hosts', 'Physical hosts', ''],
];

export function limitsText(limits) {
  return LIMITS.filter(([k]) => limits[k] !== undefined)
    .map(([k, label, unit]) => `${label} ${limits[k]}${unit}`).join(', ');
}

export async function quotaPage(ctx) {
  let teams;
  try {
    teams = await visibleTeams(ctx.signal);
  } catch (e) {
    return failure(ctx, e);
  }
  const team = ctx.params.team;
  if (!team) {
    if (teams.length) return navigate(`/quota/${enc(teams[0])}`, {replace: true});
    title(ctx, 'Quota');
    ctx.main.append(h('section', {class: 'empty'}, h('h2', {}, 'No team yet'),
      h('p', {}, 'Quota belongs to teams. Once you are a member of a team, its quota shows here.')));
    return;
  }

  let quota;
  try {
    quota = await get(`/teams/${enc(team)}/quota`, {signal: ctx.signal});
  } catch (e) {
    if (e.name === 'AbortError') return;
    if (e.status === 404) return notFound(ctx, 'team');
    return failure(ctx, e);
  }

  const switcher = teams.length > 1
    ? field('Team', 'team-switch', select(teams, {value: team, onchange: (e) => navigate(`/quota/${enc(e.target.value)}`)}))
    : null;
  title(ctx, `Quota of ${team}`, switcher);

  const bars = h('section', {class: 'card', 'aria-labelledby': 'usage-title'});
  const requests = h('section', {class: 'card', 'aria-labelledby': 'requests-title'});
  const left = h('div', {class: 'detail-main'}, bars, requests);
  const side = h('div', {class: 'detail-side'});
  ctx.main.append(h('div', {class: 'detail-grid'}, left, side));

  function drawBars() {
    clear(bars, h('h2', {id: 'usage-title'}, 'Usage and limits'),
      h('div', {class: 'bars', id: 'quota-bars'},
        LIMITS.map(([k, label, unit]) => bar(label, quota.usage[k], quota.limits[k], unit))));
  }

  let pending = false;
  async function drawRequests() {
    const list = await get('/quota-requests', {signal: ctx.signal});
    const mine = list.items.filter((r) => r.team === team);
    pending = mine.some((r) => r.state === 'pending');
    clear(requests, h('h2', {id: 'requests-title'}, 'Quota requests'),
      mine.length === 0 ? h('p', {class: 'muted'}, 'No requests for this team yet.') : table(
        ['Filed', 'By', 'Asked for', 'Reason', 'State', 'Decision'],
        mine.map((r) => [time(r.created_at), r.requested_by, limitsText(r.limits), r.reason, badge(r.state),
          r.decided_by ? `${r.decided_by}${r.comment ? `: ${r.comment}` : ''}` : '']),
        {class: 'requests'}));
  }

  drawBars();
  try {
    await drawRequests();
  } catch (e) {
    if (e.name === 'AbortError') return;
    requests.append(h('p', {class: 'notice notice-error'}, e.message));
  }

  if (canOperate(team)) side.append(requestForm());
  else side.append(h('p', {class: 'card muted'}, 'Your role in this team is viewer: team members and admins can ask for more quota.'));

  // While a request is pending, look again every few seconds: an approval shows by itself.
  let timer = null;
  ctx.onLeave(() => clearTimeout(timer));
  const tick = async () => {
    if (!ctx.active) return;
    if (pending) {
      try {
        quota = await get(`/teams/${enc(team)}/quota`, {signal: ctx.signal});
        drawBars();
        await drawRequests();
      } catch (e) {
        if (e.name === 'AbortError') return;
      }
    }
    timer = setTimeout(tick, 5000);
  };
  timer = setTimeout(tick, 5000);

  function requestForm() {
    const inputs = {};
    const err = h('p', {class: 'form-error', role: 'alert'});
    const ok = h('p', {class: 'notice notice-ok', role: 'status', hidden: true});
    const reason = h('textarea', {rows: 3, maxlength: 2000});
    const form = h('form', {class: 'card', novalidate: true, 'aria-labelledby': 'qr-title'},
      h('h2', {id: 'qr-title'}, 'Ask for more quota'),
      h('p', {class: 'muted small'}, 'Set the new limits you need; a platform admin approves or rejects the request.'),
      h('div', {class: 'row row-2'}, LIMITS.map(([k, label, unit]) => {
        inputs[k] = h('input', {type: 'number', min: 0, step: 1, inputmode: 'numeric', value: quota.limits[k]});
        return field(`${label}${unit ? ` (${unit.trim()})` : ''}`, `limits.${k}`, inputs[k]);
      })),
      field('Reason', 'reason', reason, 'What the extra room is for.'),
      err, ok,
      h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'btn btn-primary'}, 'File request')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(form);
      err.textContent = '';
      ok.hidden = true;
      const limits = {};
      for (const [k] of LIMITS) {
        const raw = inputs[k].value.trim();
        const v = Number(raw);
        if (raw === '' || !Number.isInteger(v) || v < 0) {
          return showError(form, {message: `limits.${k} must be a whole number, 0 or more`, details: {field: `limits.${k}`}}, err);
        }
        if (v !== quota.limits[k]) limits[k] = v;
      }
      if (Object.keys(limits).length === 0) {
        err.textContent = 'Change at least one limit.';
        return;
      }
      if (!reason.value.trim()) {
        return showError(form, {message: 'Say what the extra quota is for.', details: {field: 'reason'}}, err);
      }
      const btn = form.querySelector('button[type=submit]');
      btn.disabled = true;
      try {
        const r = await post(`/teams/${enc(team)}/quota-requests`, {limits, reason: reason.value.trim()});
        ok.hidden = false;
        ok.textContent = `Request filed (${limitsText(r.limits)}); it is ${r.state}. A platform admin decides.`;
        reason.value = '';
        await drawRequests();
      } catch (e2) {
        if (e2.name !== 'AbortError') showError(form, e2, err);
      } finally {
        btn.disabled = false;
      }
    });
    return form;
  }
}
