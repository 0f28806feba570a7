// One cluster: summary, the live operation timeline, nodes, actions and operation history.
//
// Live updates: while an operation is pending or running the page polls
// GET /operations/{id} (and the cluster) every second; it also reads the cluster's event
// stream (GET /clusters/{id}/events) and refreshes on every event. When the stream cannot
// be opened the page quietly polls the cluster every few seconds instead, so that an
// operation started elsewhere still shows up.

import {get, post, del, enc, streamEvents, saveFile} from '../api.js';
import {canOperate, notFound, failure} from '../app.js';
import {h, clear, badge, field, select, showError, clearErrors, table, time, duration,
  mastersText, workersText, kindLabel} from '../dom.js';

const ACTIVE = new Set(['pending', 'running']);
const POLL_MS = 1000;
const IDLE_POLL_MS = 5000;

// "1.30.8" -> [1, 30, 8]
const parse = (v) => v.split('.').map((x) => Number(x));

// Versions an upgrade may go to: a newer patch of the same minor, or the next minor. Never
// a skipped minor, never a downgrade (DESIGN.md §2).
export function upgradeTargets(current, versions) {
  const [maj, min, pat] = parse(current);
  return versions.filter((v) => {
    const [a, b, c] = parse(v);
    return a === maj && ((b === min && c > pat) || b === min + 1);
  }).sort((x, y) => {
    const [, b1, c1] = parse(x);
    const [, b2, c2] = parse(y);
    return b1 - b2 || c1 - c2;
  });
}

export async function clusterPage(ctx) {
  const id = ctx.params.id;
  let cluster;
  let ops = [];
  let op = null; // the operation shown in the timeline
  let pinned = ''; // an operation the user picked from the history
  let catalog;
  try {
    [cluster, catalog] = await Promise.all([
      get(`/clusters/${enc(id)}`, {signal: ctx.signal}),
      Promise.all([get('/versions', {signal: ctx.signal}), get('/flavors', {signal: ctx.signal})]),
    ]);
  } catch (e) {
    if (e.name === 'AbortError') return;
    if (e.status === 404) return notFound(ctx, 'cluster');
    return failure(ctx, e);
  }
  const [versions, flavors] = catalog;
  const operator = canOperate(cluster.team);

  // ----- layout: built once; the parts below are redrawn in place -----
  const head = h('div', {class: 'page-head cluster-head'});
  const summary = h('section', {class: 'summary', 'aria-label': 'Summary'});
  const opSection = h('section', {class: 'card op', 'aria-labelledby': 'op-title'});
  const nodesSection = h('section', {class: 'card', 'aria-labelledby': 'nodes-title'});
  const historySection = h('section', {class: 'card', 'aria-labelledby': 'history-title'});
  const actions = buildActions();
  const live = h('p', {class: 'live muted small', 'data-live': 'starting'}, 'Connecting…');
  ctx.main.append(head, summary, h('div', {class: 'detail-grid'},
    h('div', {class: 'detail-main'}, opSection, nodesSection, historySection),
    h('div', {class: 'detail-side'}, actions.el, live)));

  function drawHead() {
    document.title = `${cluster.name} · kaas`;
    const wasFocused = document.activeElement && document.activeElement.tagName === 'H1';
    clear(head,
      h('div', {},
        h('p', {class: 'crumbs'}, h('a', {href: '/'}, 'Clusters'), ' / ', cluster.team),
        h('h1', {tabindex: '-1'}, cluster.name, ' ', badge(cluster.status))),
      h('p', {class: 'muted'}, `${cluster.team} · ${cluster.purpose} · created by ${cluster.created_by} `,
        time(cluster.created_at)));
    if (wasFocused) head.querySelector('h1').focus({preventScroll: true});
    clear(summary,
      fact('Status', badge(cluster.status), cluster.status_reason),
      fact('Masters', mastersText(cluster.masters)),
      fact('Workers', workersText(cluster.workers)),
      fact('Kubernetes', cluster.kubernetes_version),
      fact('Nodes', String((cluster.nodes || []).length)));
  }

  function drawOperation() {
    if (!op) {
      return clear(opSection, h('h2', {id: 'op-title'}, 'Operations'), h('p', {class: 'muted'}, 'No operation yet.'));
    }
    const running = ACTIVE.has(op.state);
    const err = h('p', {class: 'form-error', role: 'alert', 'data-error-for': 'operation'});
    const controls = operator ? [
      running ? h('button', {type: 'button', class: 'btn', onclick: () => opAction('cancel', err)}, 'Cancel operation') : null,
      op.state === 'failed' || op.state === 'cancelled'
        ? h('button', {type: 'button', class: 'btn', onclick: () => opAction('retry', err)}, 'Retry operation') : null,
    ] : [];
    const fill = h('span', {class: 'bar-fill'});
    fill.style.width = `${op.progress || 0}%`;
    clear(opSection,
      h('div', {class: 'op-head'},
        h('h2', {id: 'op-title'}, h('span', {class: 'op-type'}, op.type.replace('_', ' ')), ' ', badge(op.state, 'op')),
        h('div', {class: 'op-controls'}, controls)),
      h('p', {class: 'muted small'}, `Requested by ${op.requested_by} `, time(op.created_at),
        op.finished_at ? ` · took ${duration(op.created_at, op.finished_at)}` : ''),
      h('div', {class: `bar bar-${op.state === 'failed' ? 'full' : 'ok'}`},
        h('div', {class: 'bar-track', role: 'progressbar', 'aria-label': 'Operation progress',
          'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': op.progress || 0}, fill),
        h('div', {class: 'bar-label'}, h('span', {}, `${op.progress || 0}%`))),
      op.error ? h('p', {class: 'notice notice-error'}, op.error) : null,
      err,
      h('ol', {class: 'timeline', 'aria-label': 'Steps'}, op.steps.map((s) => h('li', {class: `step step-${s.state}`},
        h('span', {class: 'step-dot', 'aria-hidden': 'true'}),
        h('div', {class: 'step-body'},
          h('div', {class: 'step-line'},
            h('span', {class: 'step-name'}, s.name),
            h('span', {class: 'step-state'}, s.state),
            s.started_at ? h('span', {class: 'step-time'}, duration(s.started_at, s.finished_at)) : null,
            s.attempts > 1 ? h('span', {class: 'step-attempts'}, `${s.attempts} attempts`) : null),
          s.message ? h('p', {class: 'step-message'}, s.message) : null)))));
  }

  function drawNodes() {
    const nodes = cluster.nodes || [];
    clear(nodesSection, h('h2', {id: 'nodes-title'}, `Nodes (${nodes.length})`),
      nodes.length === 0 ? h('p', {class: 'muted'}, 'No nodes.') : table(
        ['Name', 'Role', 'Kind', 'Hypervisor / host', 'vCPU', 'Memory', 'Version', 'State'],
        nodes.map((n) => [h('span', {class: 'nowrap', title: n.address || ''}, n.name), n.role, kindLabel(n.kind),
          n.hypervisor || n.host || '', String(n.vcpus), `${n.memory_gib} GiB`, n.kubernetes_version, badge(n.state)]),
        {class: 'nodes'}));
  }

  function drawHistory() {
    clear(historySection, h('h2', {id: 'history-title'}, 'History'),
      ops.length === 0 ? h('p', {class: 'muted'}, 'No operations.') : table(
        ['Operation', 'State', 'By', 'Started', 'Took', ''],
        ops.map((o) => [o.type.replace('_', ' '), badge(o.state, 'op'), o.requested_by, time(o.created_at),
          o.finished_at ? duration(o.created_at, o.finished_at) : '',
          o.id === (op && op.id) ? h('span', {class: 'muted small'}, 'shown above')
            : h('button', {type: 'button', class: 'btn btn-small', onclick: () => {
              pinned = o.id;
              op = o;
              drawOperation();
              drawHistory();
              opSection.scrollIntoView({block: 'start'});
            }}, 'Show steps')]),
        {class: 'history'}));
  }

  // ----- data -----
  async function reload() {
    const [c, list] = await Promise.all([
      get(`/clusters/${enc(id)}`, {signal: ctx.signal}),
      get(`/clusters/${enc(id)}/operations`, {signal: ctx.signal}),
    ]);
    cluster = c;
    ops = list.items;
    const want = pinned || cluster.active_operation || (ops[0] && ops[0].id);
    op = ops.find((o) => o.id === want) || ops[0] || null;
    drawAll();
  }

  function drawAll() {
    drawHead();
    drawOperation();
    drawNodes();
    drawHistory();
    actions.sync();
  }

  let pollTimer = null;
  let idleTimer = null;
  let streaming = false;
  ctx.onLeave(() => {
    clearTimeout(pollTimer);
    clearTimeout(idleTimer);
  });

  // While the shown operation runs: GET /operations/{id} and the cluster every second.
  function poll() {
    clearTimeout(pollTimer);
    if (!ctx.active || !op || !ACTIVE.has(op.state)) return;
    pollTimer = setTimeout(async () => {
      try {
        const [o, c] = await Promise.all([
          get(`/operations/${enc(op.id)}`, {signal: ctx.signal}),
          get(`/clusters/${enc(id)}`, {signal: ctx.signal}),
        ]);
        cluster = c;
        if (ACTIVE.has(o.state)) {
          op = o;
          ops = ops.map((x) => (x.id === o.id ? o : x));
          drawAll();
        } else {
          await reload(); // finished: the list, the nodes and the status all changed
        }
      } catch (e) {
        if (e.name === 'AbortError') return;
        live.textContent = `Refresh failed: ${e.message}. Retrying…`;
      }
      poll();
    }, POLL_MS);
  }

  // Without an event stream, notice operations started elsewhere (CLI, a colleague).
  function idlePoll() {
    clearTimeout(idleTimer);
    if (!ctx.active || streaming) return;
    idleTimer = setTimeout(async () => {
      if (!op || !ACTIVE.has(op.state)) {
        try {
          const c = await get(`/clusters/${enc(id)}`, {signal: ctx.signal});
          if (c.active_operation || c.status !== cluster.status || c.updated_at !== cluster.updated_at) {
            pinned = '';
            await reload();
            poll();
          }
        } catch (e) {
          if (e.name === 'AbortError') return;
        }
      }
      idlePoll();
    }, IDLE_POLL_MS);
  }

  let eventTimer = null;
  function onEvent() {
    clearTimeout(eventTimer);
    eventTimer = setTimeout(async () => {
      try {
        await reload();
        poll();
      } catch (e) {
        if (e.name !== 'AbortError') console.warn('refresh after event failed', e);
      }
    }, 150);
  }
  ctx.onLeave(() => clearTimeout(eventTimer));

  // Reads the event stream; reconnects (resuming after the last event seen) when the server
  // closes it, and gives up for polling when it cannot be opened or keeps failing.
  async function subscribe() {
    const controller = new AbortController();
    ctx.onLeave(() => controller.abort());
    let lastId = '';
    let failures = 0;
    while (ctx.active && failures < 5) {
      let opened = false;
      try {
        await streamEvents(`/clusters/${enc(id)}/events`, {
          signal: controller.signal,
          lastId,
          onOpen: () => {
            opened = true;
            streaming = true;
            clearTimeout(idleTimer);
            setLive('events');
          },
          onEvent: (type, data, eventId) => {
            if (eventId) lastId = eventId;
            if (type === 'log') return; // a line of a running playbook: nothing to re-read
            onEvent();
          },
        });
      } catch (e) {
        if (e.name === 'AbortError' || !ctx.active) return;
        if (e.status) break; // no event stream on this server (404, not SSE): poll instead
      }
      failures = opened ? 0 : failures + 1;
      streaming = false;
      setLive('polling');
      idlePoll();
      await new Promise((r) => setTimeout(r, 1000 * (failures + 1)));
    }
    if (!ctx.active) return;
    streaming = false;
    setLive('polling');
    idlePoll();
  }

  function setLive(mode) {
    live.dataset.live = mode;
    live.textContent = mode === 'events'
      ? 'Live: updates arrive from the event stream.'
      : 'Live: checking for changes every few seconds.';
  }

  // ----- actions -----
  async function opAction(verb, errSlot) {
    errSlot.textContent = '';
    try {
      await post(`/operations/${enc(op.id)}/${verb}`);
      await reload();
      poll();
    } catch (e) {
      if (e.name !== 'AbortError') errSlot.textContent = e.message;
    }
  }

  // Starts an operation through `send()`; shows its error in `form`.
  async function start(form, errSlot, send) {
    clearErrors(form);
    errSlot.textContent = '';
    const btn = form.querySelector('button[type=submit]');
    btn.disabled = true;
    try {
      const r = await send();
      pinned = '';
      if (r && r.operation) op = r.operation;
      await reload();
      poll();
      return true;
    } catch (e) {
      if (e.name === 'AbortError') return false;
      showError(form, e, errSlot);
      return false;
    } finally {
      btn.disabled = false;
      actions.sync();
    }
  }

  function actionForm(titleText, name, fields, submitLabel, send, {danger = false, hint} = {}) {
    const err = h('p', {class: 'form-error', role: 'alert', 'data-error-for': ''});
    const form = h('form', {class: `action${danger ? ' action-danger' : ''}`, 'data-action': name, novalidate: true},
      h('h3', {}, titleText), hint ? h('p', {class: 'muted small'}, hint) : null,
      h('div', {class: 'action-row'}, fields,
        h('button', {type: 'submit', class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`}, submitLabel)),
      err);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      start(form, err, () => send(form));
    });
    return form;
  }

  function buildActions() {
    const el = h('section', {class: 'card actions-panel', 'aria-labelledby': 'actions-title'});
    const kubeErr = h('p', {class: 'form-error', role: 'alert'});
    const kube = h('div', {class: 'action', 'data-action': 'kubeconfig'},
      h('h3', {}, 'Access'),
      h('p', {class: 'muted small'}, 'A kubeconfig with a short-lived client certificate for you.'),
      h('button', {type: 'button', class: 'btn', onclick: async () => {
        kubeErr.textContent = '';
        try {
          const text = await get(`/clusters/${enc(id)}/kubeconfig`, {raw: true, signal: ctx.signal});
          saveFile(`${cluster.name}-kubeconfig.yaml`, text);
        } catch (e) {
          if (e.name !== 'AbortError') kubeErr.textContent = e.message;
        }
      }}, 'Download kubeconfig'),
      kubeErr);

    if (!operator) {
      clear(el, h('h2', {id: 'actions-title'}, 'Actions'), kube,
        h('p', {class: 'muted small'}, 'Your role in this team is viewer: you can look, not change.'));
      return {el, sync() {
        kube.hidden = cluster.status === 'deleted';
      }};
    }

    const workers = h('input', {type: 'number', min: 0, max: 500, step: 1, inputmode: 'numeric',
      value: cluster.workers.count});
    const scaleForm = actionForm('Scale workers', 'scale-workers',
      field('Workers', 'count', workers), 'Scale', () => {
        const n = Number(workers.value);
        if (workers.value.trim() === '' || !Number.isInteger(n) || n < 0) {
          return Promise.reject({message: 'count must be a whole number, 0 or more', details: {field: 'count'}});
        }
        return post(`/clusters/${enc(id)}/workers`, {count: n});
      }, {hint: 'Masters are resized with the workers when the count crosses 50 or 100.'});

    const masterCount = select([], {});
    const countForm = actionForm('Masters', 'masters-count',
      field('Master count', 'count', masterCount), 'Change',
      () => post(`/clusters/${enc(id)}/masters`, {count: Number(masterCount.value)}),
      {hint: '1, 3 or 5: etcd membership changes one member at a time.'});

    const masterFlavor = select([], {});
    const flavorForm = actionForm('Master size', 'masters-flavor',
      field('Master flavor', 'flavor', masterFlavor), 'Resize',
      () => post(`/clusters/${enc(id)}/masters`, {flavor: masterFlavor.value}),
      {hint: 'Scale-up replaces masters one at a time.'});

    const target = select([], {});
    const upgradeForm = actionForm('Upgrade Kubernetes', 'upgrade',
      field('Target version', 'kubernetes_version', target), 'Upgrade',
      () => post(`/clusters/${enc(id)}/upgrade`, {kubernetes_version: target.value}),
      {hint: 'One minor version at a time, masters first.'});

    const confirm = h('input', {autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none'});
    const deleteForm = actionForm('Delete cluster', 'delete',
      field(`Type ${cluster.name} to confirm`, 'confirm', confirm), 'Delete cluster',
      () => del(`/clusters/${enc(id)}`).then((r) => {
        confirm.value = '';
        return r;
      }), {danger: true, hint: 'Removes every node and releases its hosts and quota. It cannot be undone.'});
    const deleteBtn = deleteForm.querySelector('button[type=submit]');
    confirm.addEventListener('input', () => {
      deleteBtn.disabled = confirm.value !== cluster.name || Boolean(op && ACTIVE.has(op.state));
    });

    const busy = h('p', {class: 'notice small', role: 'status'});
    const forms = [scaleForm, countForm, flavorForm, upgradeForm, deleteForm];
    clear(el, h('h2', {id: 'actions-title'}, 'Actions'), busy, kube, ...forms);

    const upgradeBtn = upgradeForm.querySelector('button[type=submit]');
    const noTarget = h('p', {class: 'muted small none-note'});
    upgradeForm.append(noTarget);

    // Re-fills the choices only when what they depend on changed, so that a user's pick
    // survives the once-a-second refresh.
    let shown = '';
    function refill() {
      const key = `${cluster.masters.count}|${cluster.masters.flavor}|${cluster.kubernetes_version}|${cluster.workers.count}`;
      if (key === shown) return;
      const firstFill = shown === '';
      shown = key;
      if (firstFill || document.activeElement !== workers) workers.value = cluster.workers.count;
      fillSelect(masterCount, [1, 3, 5].filter((n) => n !== cluster.masters.count).map((n) => [n, String(n)]));
      fillSelect(masterFlavor, flavors.masters.filter((f) => f.name !== cluster.masters.flavor)
        .map((f) => [f.name, `${f.name} (${f.vcpus} vCPU, ${f.memory_gib} GiB, ${kindLabel(f.kind)})`]));
      const targets = upgradeTargets(cluster.kubernetes_version, versions.items.map((v) => v.version));
      fillSelect(target, targets.map((v) => [v, v]));
      noTarget.textContent = targets.length ? '' : `${cluster.kubernetes_version} is the newest version kaas supports.`;
      target.disabled = targets.length === 0;
    }

    function sync() {
      refill();
      const gone = cluster.status === 'deleted';
      const active = Boolean(cluster.active_operation) || Boolean(op && ACTIVE.has(op.state));
      busy.hidden = !active && !gone;
      busy.textContent = gone ? 'This cluster has been deleted.'
        : active ? 'An operation is in progress: changes can start when it has finished.' : '';
      kube.hidden = gone;
      for (const f of forms) {
        f.hidden = gone || (cluster.status === 'deleting' && f !== deleteForm);
        for (const b of f.querySelectorAll('button[type=submit]')) b.disabled = active;
      }
      if (target.options.length === 0) upgradeBtn.disabled = true;
      deleteBtn.disabled = active || confirm.value !== cluster.name;
    }
    return {el, sync};
  }

  drawHead();
  try {
    await reload();
  } catch (e) {
    if (e.name === 'AbortError') return;
    if (e.status === 404) return notFound(ctx, 'cluster');
    return failure(ctx, e);
  }
  poll();
  subscribe();
}

function fact(label, value, note) {
  return h('div', {class: 'fact'}, h('div', {class: 'fact-label'}, label),
    h('div', {class: 'fact-value'}, value), note ? h('div', {class: 'fact-note muted small'}, note) : null);
}

function fillSelect(sel, options) {
  const keep = sel.value;
  clear(sel, options.map(([v, label]) => h('option', {value: v}, label)));
  if (options.some(([v]) => String(v) === keep)) sel.value = keep;
}
