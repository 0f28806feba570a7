// The clusters of my teams: GET /clusters?team=&selector=&cursor=, with each cluster's labels
// and last operation. The team and the label selector live in the URL (/?team=&selector=), so
// a link or a reload keeps the filter. Refreshes by itself while any cluster is changing.

import {get, enc} from '../api.js';
import {currentUser, title, failure, visibleTeams} from '../app.js';
import {h, clear, badge, mastersText, workersText, select, field, ago, table, setFieldError} from '../dom.js';
import {labelChips} from '../labels.js';
import {navigate} from '../router.js';

const CHANGING = new Set(['provisioning', 'updating', 'deleting']);

function listUrl(team, selector) {
  const q = new URLSearchParams();
  if (team) q.set('team', team);
  if (selector) q.set('selector', selector);
  const qs = q.toString();
  return qs ? `/?${qs}` : '/';
}

export async function clustersPage(ctx) {
  const me = currentUser();
  const team = ctx.query.get('team') || '';
  const selector = ctx.query.get('selector') || '';
  const canCreate = me.is_admin || me.teams.some((t) => t.role !== 'viewer');
  title(ctx, 'Clusters', canCreate ? h('a', {href: '/clusters/new', class: 'btn btn-primary'}, 'Create cluster') : null);

  let teams;
  try {
    teams = await visibleTeams(ctx.signal);
  } catch (e) {
    return failure(ctx, e);
  }
  const filter = select([['', 'All my teams'], ...teams], {value: team});
  filter.addEventListener('change', () => navigate(listUrl(filter.value, selector)));
  const teamField = field('Team', 'team-filter', filter);
  teamField.hidden = teams.length < 2 && !team;
  const selectorInput = h('input', {type: 'search', value: selector, autocomplete: 'off', spellcheck: 'false',
    autocapitalize: 'none', placeholder: 'env=prod,tier!=db'});
  const selectorForm = h('form', {class: 'selector-form', role: 'search', 'aria-label': 'Filter by labels', novalidate: true},
    field('Label selector', 'selector', selectorInput, 'key=value, key!=value, key in (a,b), key notin (a,b), key, !key; "," means and.'),
    h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'btn'}, 'Filter'),
      selector ? h('a', {href: listUrl(team, ''), class: 'btn btn-quiet'}, 'Clear') : null));
  selectorForm.addEventListener('submit', (e) => {
    e.preventDefault();
    navigate(listUrl(team, selectorInput.value.trim()));
  });
  const toolbar = h('div', {class: 'toolbar', hidden: teams.length === 0 && !team && !selector}, teamField, selectorForm);
  const list = h('div', {class: 'cluster-list', 'aria-live': 'polite'});
  const more = h('div', {class: 'actions'});
  ctx.main.append(toolbar, list, more);

  let items = [];
  let cursor = '';
  let timer = null;
  ctx.onLeave(() => clearTimeout(timer));

  async function fetchPage(after, limit = 50) {
    const q = new URLSearchParams({limit: String(limit)});
    if (team) q.set('team', team);
    if (selector) q.set('selector', selector);
    if (after) q.set('cursor', after);
    return get(`/clusters?${q}`, {signal: ctx.signal});
  }

  // The last operation of each cluster, kept between refreshes; re-read only for clusters
  // that are changing (their operation is still moving).
  const lastOps = new Map();
  const opText = (op) => (op ? h('span', {}, `${op.type.replace('_', ' ')} `, badge(op.state, 'op'),
    h('span', {class: 'muted'}, ` ${ago(op.updated_at || op.created_at)}`)) : '—');
  async function lastOperation(c, cell) {
    if (lastOps.has(c.id) && !CHANGING.has(c.status) && !lastOps.get(c.id)?.changing) {
      return clear(cell, opText(lastOps.get(c.id).op));
    }
    try {
      const ops = await get(`/clusters/${enc(c.id)}/operations`, {signal: ctx.signal});
      const op = ops.items[0];
      lastOps.set(c.id, {op, changing: CHANGING.has(c.status)});
      clear(cell, opText(op));
    } catch (e) {
      if (e.name !== 'AbortError') cell.textContent = '—';
    }
  }

  function draw() {
    if (items.length === 0) return clear(list, emptyState(me, team, teams, selector));
    const opCells = [];
    const rows = items.map((c) => {
      const cell = h('span', {class: 'muted'}, '…');
      opCells.push([c, cell]);
      return [
        h('a', {href: `/clusters/${enc(c.id)}`, class: 'cluster-name'}, c.name),
        c.team, c.purpose, labelChips(c.labels), badge(c.status), mastersText(c.masters), workersText(c.workers),
        c.kubernetes_version, cell,
      ];
    });
    clear(list, table(['Name', 'Team', 'Purpose', 'Labels', 'Status', 'Masters', 'Workers', 'Version',
      'Last operation'], rows, {class: 'clusters'}));
    // Bounded: one page is at most 50 clusters.
    for (const [c, cell] of opCells) lastOperation(c, cell);
  }

  function drawMore() {
    clear(more, cursor ? h('button', {type: 'button', class: 'btn', onclick: async () => {
      const page = await fetchPage(cursor);
      items = items.concat(page.items);
      cursor = page.next_cursor;
      draw();
      drawMore();
    }}, 'Show more') : null);
  }

  async function refresh() {
    try {
      // Re-read as many clusters as are shown, so "Show more" pages stay put.
      const page = await fetchPage('', Math.min(500, Math.max(50, items.length)));
      items = page.items;
      cursor = page.next_cursor;
      draw();
      drawMore();
    } catch (e) {
      if (e.name === 'AbortError') return;
      // A selector the API cannot parse: its message (with the position) under the input, and
      // no list at all rather than an empty one.
      if (e.status === 400 && e.details.field === 'selector' && setFieldError(selectorForm, 'selector', e.message)) {
        clear(more);
        clear(list, h('p', {class: 'notice notice-error', 'data-selector-error': ''},
          'No clusters are listed until the label selector is fixed.'));
        return;
      }
      clear(list, h('p', {class: 'notice notice-error', role: 'alert'},
        e.status === 404 ? `Team ${team} not found.` : e.message));
      return;
    }
    if (ctx.active && items.some((c) => CHANGING.has(c.status))) {
      timer = setTimeout(refresh, 3000);
    }
  }
  await refresh();
}

function emptyState(me, team, teams, selector) {
  if (!me.is_admin && me.teams.length === 0) {
    return h('section', {class: 'empty'},
      h('h2', {}, 'You are not in a team yet'),
      h('p', {}, 'Clusters belong to teams. Ask your team\'s admin to add you as a member ',
        '(or a platform admin to create a team for you); your clusters will show up here.'),
      h('p', {class: 'muted'}, `Your username is ${me.username}.`));
  }
  const operable = me.is_admin || me.teams.some((t) => t.role !== 'viewer' && (!team || t.name === team));
  if (me.is_admin && teams.length === 0) {
    return h('section', {class: 'empty'},
      h('h2', {}, 'No teams and no clusters yet'),
      h('p', {}, 'Start by creating a team and adding people to it, then create its first cluster.'),
      h('p', {}, h('a', {href: '/admin/people', class: 'btn btn-primary'}, 'Create a team')));
  }
  if (selector) {
    return h('section', {class: 'empty'},
      h('h2', {}, 'No cluster matches the selector'),
      h('p', {}, `No cluster${team ? ` of ${team}` : ''} has labels that match `, h('code', {}, selector), '.'),
      h('p', {}, h('a', {href: listUrl(team, ''), class: 'btn'}, 'Show all clusters')));
  }
  return h('section', {class: 'empty'},
    h('h2', {}, team ? `No clusters in ${team} yet` : 'No clusters yet'),
    operable
      ? [h('p', {}, 'A cluster takes a minute: pick a team, a purpose (personal: 1 master, dev: 3, ',
        'prod: 5) and how many workers you need. kaas shows the plan and checks your quota before ',
        'anything is built.'),
      h('p', {}, h('a', {href: team ? `/clusters/new?team=${enc(team)}` : '/clusters/new',
        class: 'btn btn-primary'}, 'Create your first cluster'))]
      : h('p', {}, 'You can see this team\'s clusters but not create them (your role is viewer). ',
        'Ask a team admin for the member role.'));
}
