// Platform administration: quota requests, inventory, users and teams, the audit log.
// Only for platform admins (is_admin from GET /me); everyone else gets "not found".

import {get, post, put, del, enc} from '../api.js';
import {currentUser, title, notFound, failure} from '../app.js';
import {h, clear, bar, badge, field, select, table, time, showError, clearErrors, button} from '../dom.js';
import {navigate} from '../router.js';
import {LIMITS, limitsText} from './quota.js';

const TABS = [
  ['requests', 'Quota requests', requestsTab],
  ['inventory', 'Inventory', inventoryTab],
  ['people', 'Users & teams', peopleTab],
  ['audit', 'Audit log', auditTab],
];

export async function adminPage(ctx) {
  if (!currentUser().is_admin) return notFound(ctx);
  const tab = ctx.params.tab || 'requests';
  const entry = TABS.find(([k]) => k === tab);
  if (!entry) return notFound(ctx);
  title(ctx, 'Administration');
  ctx.main.append(h('nav', {class: 'tabs', 'aria-label': 'Administration'},
    TABS.map(([k, label]) => h('a', {href: `/admin/${k}`, class: 'tab', 'aria-current': k === tab ? 'page' : null}, label))));
  const body = h('div', {class: 'tab-body'});
  ctx.main.append(body);
  try {
    await entry[2](ctx, body);
  } catch (e) {
    if (e.name === 'AbortError') return;
    failure(ctx, e);
  }
}

// ---------- quota requests ----------

async function requestsTab(ctx, body) {
  const state = ctx.query.get('state') ?? 'pending';
  const filter = select([['pending', 'pending'], ['approved', 'approved'], ['rejected', 'rejected'], ['', 'all']],
    {value: state, onchange: (e) => navigate(`/admin/requests?state=${enc(e.target.value)}`)});
  const list = h('div', {class: 'requests-list', 'aria-live': 'polite'});
  body.append(h('div', {class: 'toolbar'}, field('State', 'state', filter)), list);

  async function draw() {
    const r = await get(`/quota-requests${state ? `?state=${enc(state)}` : ''}`, {signal: ctx.signal});
    if (r.items.length === 0) {
      return clear(list, h('section', {class: 'empty'}, h('h2', {}, state === 'pending' ? 'Nothing to decide' : 'No requests'),
        h('p', {class: 'muted'}, state === 'pending' ? 'Quota requests that teams file show up here.' : '')));
    }
    const teams = [...new Set(r.items.map((x) => x.team))];
    const current = Object.fromEntries(await Promise.all(teams.map(async (t) => {
      try {
        return [t, await get(`/teams/${enc(t)}/quota`, {signal: ctx.signal})];
      } catch {
        return [t, null];
      }
    })));
    clear(list, r.items.map((q) => requestCard(q, current[q.team], draw)));
  }
  await draw();
}

function requestCard(q, quota, redraw) {
  const comment = h('input', {autocomplete: 'off'});
  const err = h('p', {class: 'form-error', role: 'alert'});
  const change = LIMITS.filter(([k]) => q.limits[k] !== undefined).map(([k, label, unit]) =>
    h('li', {}, `${label}: `, quota ? `${quota.limits[k]}${unit} → ` : '', h('strong', {}, `${q.limits[k]}${unit}`),
      quota ? h('span', {class: 'muted'}, ` (in use: ${quota.usage[k]}${unit})`) : null));
  async function decide(verb) {
    err.textContent = '';
    try {
      await post(`/quota-requests/${enc(q.id)}/${verb}`, {comment: comment.value});
      await redraw();
    } catch (e) {
      if (e.name !== 'AbortError') showError(card, e, err);
    }
  }
  const card = h('article', {class: 'card request', 'data-request': q.id},
    h('div', {class: 'op-head'}, h('h2', {}, `${q.team}`), badge(q.state)),
    h('p', {class: 'muted small'}, `Filed by ${q.requested_by} `, time(q.created_at)),
    h('ul', {class: 'changes'}, change),
    h('blockquote', {}, q.reason),
    q.state === 'pending'
      ? h('form', {class: 'decide', onsubmit: (e) => e.preventDefault()},
        field('Comment', 'comment', comment),
        h('div', {class: 'actions'},
          button('Approve', {class: 'btn btn-primary', onclick: () => decide('approve')}),
          button('Reject', {class: 'btn btn-danger', onclick: () => decide('reject')})),
        err)
      : h('p', {}, `${q.state} by ${q.decided_by} `, time(q.decided_at), q.comment ? `: ${q.comment}` : ''));
  return card;
}

// ---------- inventory ----------

async function inventoryTab(ctx, body) {
  const [hvs, hosts, clusters] = await Promise.all([get('/hypervisors', {signal: ctx.signal}),
    get('/hosts', {signal: ctx.signal}), get('/clusters?limit=500', {signal: ctx.signal})]);
  // Host allocations name cluster ids; show the cluster's team and name where we know it.
  const names = new Map(clusters.items.map((c) => [c.id, `${c.team}/${c.name}`]));
  const sum = (list, f) => list.reduce((a, x) => a + f(x), 0);
  const allocated = hosts.items.filter((x) => x.state === 'allocated').length;
  body.append(
    h('section', {class: 'card', 'aria-labelledby': 'cap-title'},
      h('h2', {id: 'cap-title'}, 'Capacity'),
      h('div', {class: 'bars bars-3'},
        bar('Hypervisor vCPU', sum(hvs.items, (x) => x.used.vcpus), sum(hvs.items, (x) => x.vcpus)),
        bar('Hypervisor memory', sum(hvs.items, (x) => x.used.memory_gib), sum(hvs.items, (x) => x.memory_gib), ' GiB'),
        bar('Physical hosts allocated', allocated, hosts.items.length))),
    h('section', {class: 'card', 'aria-labelledby': 'hv-title'},
      h('h2', {id: 'hv-title'}, `Hypervisors (${hvs.items.length})`),
      table(['Name', 'URI', 'State', 'vCPU', 'Memory', 'Nodes'], hvs.items.map((x) => [
        x.name, h('code', {}, x.uri), badge(x.state),
        bar('vCPU', x.used.vcpus, x.vcpus), bar('Memory', x.used.memory_gib, x.memory_gib, ' GiB'),
        String(x.used.nodes)]), {class: 'hypervisors'})),
    h('section', {class: 'card', 'aria-labelledby': 'hosts-title'},
      h('h2', {id: 'hosts-title'}, `Physical hosts (${hosts.items.length}, ${allocated} allocated)`),
      table(['Name', 'Address', 'vCPU', 'Memory', 'State', 'Cluster'], hosts.items.map((x) => [
        x.name, x.address, String(x.vcpus), `${x.memory_gib} GiB`, badge(x.state),
        x.cluster_id ? h('a', {href: `/clusters/${enc(x.cluster_id)}`}, names.get(x.cluster_id) || x.cluster_id) : '']),
      {class: 'hosts'})));
}

// ---------- users and teams ----------

async function peopleTab(ctx, body) {
  const users = h('section', {class: 'card', 'aria-labelledby': 'users-title'});
  const teams = h('section', {class: 'card', 'aria-labelledby': 'teams-title'});
  const members = h('section', {class: 'card', 'aria-labelledby': 'members-title'});
  body.append(h('div', {class: 'detail-grid'}, h('div', {class: 'detail-main'}, users, members),
    h('div', {class: 'detail-side'}, teams)));
  let selected = ctx.query.get('team') || '';

  async function drawUsers() {
    const r = await get('/users', {signal: ctx.signal});
    const username = h('input', {autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false'});
    const password = h('input', {type: 'password', autocomplete: 'new-password'});
    const admin = h('input', {type: 'checkbox'});
    const err = h('p', {class: 'form-error', role: 'alert'});
    const form = h('form', {class: 'inline-form', novalidate: true, 'aria-label': 'New user'},
      field('Username', 'username', username), field('Password', 'password', password, 'At least 12 characters.'),
      h('div', {class: 'field check'}, h('label', {}, admin, ' platform admin')),
      h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'btn btn-primary'}, 'Create user')), err);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(form);
      err.textContent = '';
      try {
        await post('/users', {username: username.value.trim(), password: password.value, is_admin: admin.checked});
        await drawUsers();
      } catch (e2) {
        if (e2.name !== 'AbortError') showError(form, e2, err);
      }
    });
    clear(users, h('h2', {id: 'users-title'}, `Users (${r.items.length})`),
      table(['Username', 'Source', 'Platform admin', 'Created'], r.items.map((u) => [u.username, u.source === 'directory' ? 'company directory' : 'local', u.is_admin ? 'yes' : '', time(u.created_at)]),
        {class: 'users'}),
      h('h3', {}, 'New user'), form);
  }

  async function drawTeams() {
    const r = await get('/teams', {signal: ctx.signal});
    if (!selected && r.items.length) selected = r.items[0].name;
    const name = h('input', {autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', maxlength: 40});
    const err = h('p', {class: 'form-error', role: 'alert'});
    const form = h('form', {class: 'inline-form', novalidate: true, 'aria-label': 'New team'},
      field('Team name', 'name', name, 'Lowercase letters, digits and "-".'),
      h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'btn btn-primary'}, 'Create team')), err);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(form);
      err.textContent = '';
      try {
        const t = await post('/teams', {name: name.value.trim()});
        selected = t.name;
        await drawTeams();
        await drawMembers();
      } catch (e2) {
        if (e2.name !== 'AbortError') showError(form, e2, err);
      }
    });
    clear(teams, h('h2', {id: 'teams-title'}, `Teams (${r.items.length})`),
      r.items.length ? h('ul', {class: 'team-list'}, r.items.map((t) => h('li', {},
        h('button', {type: 'button', class: `btn btn-link${t.name === selected ? ' is-selected' : ''}`,
          'aria-pressed': t.name === selected ? 'true' : 'false',
          onclick: async () => {
            selected = t.name;
            await drawTeams();
            await drawMembers();
          }}, t.name),
        ' ', h('a', {href: `/quota/${enc(t.name)}`, class: 'small'}, 'quota')))) : h('p', {class: 'muted'}, 'No teams yet.'),
      h('h3', {}, 'New team'), form);
  }

  async function drawMembers() {
    if (!selected) return clear(members, h('h2', {id: 'members-title'}, 'Members'), h('p', {class: 'muted'}, 'Create a team first.'));
    const r = await get(`/teams/${enc(selected)}/members`, {signal: ctx.signal});
    const err = h('p', {class: 'form-error', role: 'alert'});
    const username = h('input', {autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false'});
    const role = select(['member', 'viewer', 'admin'], {value: 'member'});
    const form = h('form', {class: 'inline-form', novalidate: true, 'aria-label': `Add a member to ${selected}`},
      field('Username', 'username', username), field('Role', 'role', role),
      h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'btn btn-primary'}, 'Add member')), err);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(form);
      err.textContent = '';
      try {
        await put(`/teams/${enc(selected)}/members/${enc(username.value.trim())}`, {role: role.value});
        await drawMembers();
      } catch (e2) {
        if (e2.name !== 'AbortError') showError(form, e2, err);
      }
    });
    const rows = r.items.map((m) => {
      const roleSel = select(['admin', 'member', 'viewer'], {value: m.role, 'aria-label': `Role of ${m.username}`});
      roleSel.addEventListener('change', async () => {
        err.textContent = '';
        try {
          await put(`/teams/${enc(selected)}/members/${enc(m.username)}`, {role: roleSel.value});
        } catch (e) {
          err.textContent = e.message;
        }
      });
      return [m.username, roleSel, button('Remove', {class: 'btn btn-small', 'aria-label': `Remove ${m.username}`,
        onclick: async () => {
          err.textContent = '';
          try {
            await del(`/teams/${enc(selected)}/members/${enc(m.username)}`);
            await drawMembers();
          } catch (e) {
            err.textContent = e.message;
          }
        }})];
    });
    clear(members, h('h2', {id: 'members-title'}, `Members of ${selected}`),
      rows.length ? table(['User', 'Role', ''], rows, {class: 'members'}) : h('p', {class: 'muted'}, 'No members yet.'),
      h('h3', {}, 'Add a member'), form);
  }

  await Promise.all([drawUsers(), drawTeams()]);
  await drawMembers();
}

// ---------- audit log ----------

async function auditTab(ctx, body) {
  const teams = await get('/teams', {signal: ctx.signal});
  const q = ctx.query;
  const team = select([['', 'all teams'], ...teams.items.map((t) => t.name)], {value: q.get('team') || ''});
  const limit = select(['100', '500', '1000'], {value: q.get('limit') || '100'});
  const actor = h('input', {type: 'search', value: q.get('actor') || '', autocomplete: 'off'});
  const action = h('input', {type: 'search', value: q.get('action') || '', autocomplete: 'off', placeholder: 'e.g. clusters'});
  const result = select([['', 'any'], ['ok', 'ok'], ['error', 'errors only']], {value: q.get('result') || ''});
  const out = h('div', {'aria-live': 'polite'});
  const form = h('form', {class: 'toolbar filters', 'aria-label': 'Audit filters', onsubmit: (e) => e.preventDefault()},
    field('Team', 'team', team), field('Actor', 'actor', actor), field('Action', 'action', action),
    field('Result', 'result', result), field('Last', 'limit', limit));
  body.append(form, out);

  let items = [];
  function apply() {
    const params = new URLSearchParams();
    for (const [k, el] of [['team', team], ['limit', limit], ['actor', actor], ['action', action], ['result', result]]) {
      if (el.value && !(k === 'limit' && el.value === '100')) params.set(k, el.value);
    }
    history.replaceState(null, '', `/admin/audit${params.size ? `?${params}` : ''}`);
    const a = actor.value.trim().toLowerCase();
    const act = action.value.trim().toLowerCase();
    const shown = items.filter((e) => (!a || e.actor.toLowerCase().includes(a)) &&
      (!act || `${e.action} ${e.object}`.toLowerCase().includes(act)) &&
      (!result.value || (result.value === 'ok' ? e.result === 'ok' : e.result !== 'ok')));
    clear(out, h('p', {class: 'muted small'}, `${shown.length} of ${items.length} entries`),
      table(['When', 'Actor', 'Team', 'Action', 'Object', 'From', 'Status', 'Result'], shown.map((e) => [
        time(e.at), e.actor, e.team, h('code', {}, e.action), e.object, e.remote_addr, String(e.status),
        h('span', {class: e.result === 'ok' ? 'ok' : 'bad'}, e.result)]), {class: 'audit'}));
  }
  async function load() {
    const p = new URLSearchParams({limit: limit.value});
    if (team.value) p.set('team', team.value);
    try {
      items = (await get(`/audit?${p}`, {signal: ctx.signal})).items;
    } catch (e) {
      if (e.name === 'AbortError') return;
      items = [];
      clear(out, h('p', {class: 'notice notice-error'}, e.message));
      return;
    }
    apply();
  }
  team.addEventListener('change', load);
  limit.addEventListener('change', load);
  for (const el of [actor, action]) el.addEventListener('input', apply);
  result.addEventListener('change', apply);
  await load();
}
