// One cluster: summary (labels included), the live operation timeline, nodes, actions (the
// labels editor among them) and operation history.
//
// Live updates: while an operation is pending or running the page polls
// GET /operations/{id} (and the cluster) every second; it also reads the cluster's event
// stream (GET /clusters/{id}/events) and refreshes on every event. When the stream cannot
// be opened the page quietly polls the cluster every few seconds instead, so that an
// operation started elsewhere still shows up.

import {get, post, patch, del, enc, streamEvents, saveFile} from '../api.js';
import {canOperate, notFound, failure} from '../app.js';
import {h, clear, badge, bar, field, select, showError, clearErrors, table, time, duration,
  mastersText, workersText, kindLabel} from '../dom.js';
import {describe, fingerprint, titleOf} from '../plan.js';
import {labelChips, labelsEditor, labelsPatch, sameLabels, isLabelsField} from '../labels.js';
import {shortfallText} from './create.js';

const ACTIVE = new Set(['pending', 'running']);
const POLL_MS = 1000;
const IDLE_POLL_MS = 5000;

// "1.36.3" -> [1, 36, 3]
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
      fact('Nodes', String((cluster.nodes || []).length)),
      fact('Labels', labelChips(cluster.labels, h('span', {class: 'muted'}, 'none')), null, 'fact-labels'));
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
    const hadFocus = document.activeElement && document.activeElement.id === 'op-title';
    clear(opSection,
      h('div', {class: 'op-head'},
        h('h2', {id: 'op-title', tabindex: '-1'}, h('span', {class: 'op-type'}, op.type.replace('_', ' ')), ' ', badge(op.state, 'op')),
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
    if (hadFocus) document.getElementById('op-title').focus({preventScroll: true});
  }

  function drawNodes() {
    const nodes = cluster.nodes || [];
    clear(nodesSection, h('h2', {id: 'nodes-title'}, `Nodes (${nodes.length})`),
      nodes.length === 0 ? h('p', {class: 'muted'}, 'No nodes.') : table(
        ['Name', 'Role', 'Kind', 'Hypervisor / host', 'vCPU', 'Memory', 'Version', 'State', 'Health', ''],
        nodes.map((n) => [h('span', {class: 'nowrap', title: n.address || ''}, n.name), n.role, kindLabel(n.kind),
          n.hypervisor || n.host || '', String(n.vcpus), `${n.memory_gib} GiB`, n.kubernetes_version, badge(n.state),
          h('span', {'data-health': n.name, title: n.health_reason || ''}, badge(n.health || 'unknown'),
            n.health_reason ? h('span', {class: 'muted small'}, ` ${n.health_reason}`) : null),
          operator && n.state === 'ready' && cluster.status === 'running'
            ? h('button', {type: 'button', class: 'btn btn-small', 'data-repair': n.name,
              'aria-label': `Replace node ${n.name}`,
              onclick: (e) => openPlan({type: 'repair', node: n.name}, e.currentTarget)}, 'Replace…')
            : '']),
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

  // ----- changes: plan first, then confirm -----
  //
  // Every change (workers, master count, master flavor, upgrade, delete) opens a plan: the
  // dry run of the very request (?dry_run=true) drawn as steps, nodes added and removed,
  // masters re-sized, the team's quota afterwards and warnings. "Confirm" first asks for the
  // dry run again and compares it with the plan on screen (plan.js fingerprint(): the step
  // names and the node set); only when they are the same is the request sent for real. When
  // they differ — the cluster changed in between — nothing is sent and the new plan is shown
  // to be confirmed again. The real answer is compared once more and any difference said.

  const changeRequest = {
    workers: (c) => ({method: 'POST', path: 'workers', body: {count: c.count}}),
    masters: (c) => ({method: 'POST', path: 'masters', body: {count: c.count}}),
    flavor: (c) => ({method: 'POST', path: 'masters', body: {flavor: c.flavor}}),
    upgrade: (c) => ({method: 'POST', path: 'upgrade', body: {kubernetes_version: c.version, max_unavailable: c.maxUnavailable || 1}}),
    delete: () => ({method: 'DELETE', path: '', body: undefined}),
    repair: (c) => ({method: 'POST', path: `nodes/${enc(c.node)}/repair`, body: {}}),
  };

  function send(change, dryRun) {
    const r = changeRequest[change.type](change);
    const path = `/clusters/${enc(id)}${r.path ? `/${r.path}` : ''}${dryRun ? '?dry_run=true' : ''}`;
    return r.method === 'DELETE' ? del(path) : post(path, r.body);
  }

  async function teamQuota() {
    try {
      return await get(`/teams/${enc(cluster.team)}/quota`, {signal: ctx.signal});
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      return null; // the plan does not need it; the API still checks quota at submit
    }
  }

  const CONFIRM_LABEL = {
    workers: (c) => `Scale workers to ${c.count}`,
    masters: (c) => `Change to ${c.count} master${c.count === 1 ? '' : 's'}`,
    flavor: (c) => `Resize masters to ${c.flavor}`,
    upgrade: (c) => `Upgrade to ${c.version}`,
    delete: () => `Delete ${cluster.name}`,
    repair: (c) => `Replace ${c.node}`,
  };

  // The plan dialog (a modal <dialog>: focus moves into it, Escape closes it, the page behind
  // is inert). `opener` gets the focus back when it closes without a change.
  function openPlan(change, opener) {
    const danger = change.type === 'delete';
    const heading = h('h2', {id: 'plan-title', tabindex: '-1'}, titleOf(change, cluster));
    const changed = h('p', {class: 'notice notice-warn plan-changed', role: 'alert', hidden: true});
    const body = h('div', {class: 'plan-body', 'aria-live': 'polite', 'aria-busy': 'true'},
      h('p', {class: 'muted'}, 'Asking kaas for the plan…'));
    const typed = h('input', {autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none'});
    const typedField = field(`Type ${cluster.name} to confirm`, 'confirm-name', typed, danger
      ? 'Deleting cannot be undone.'
      : 'Fewer masters than this cluster\'s purpose asks for: type its name to be sure.');
    typedField.hidden = true;
    const err = h('p', {class: 'form-error', role: 'alert', 'data-error-for': 'plan'});
    const confirmBtn = h('button', {type: 'button', class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`, disabled: true,
      'data-confirm': change.type}, CONFIRM_LABEL[change.type](change));
    const cancelBtn = h('button', {type: 'button', class: 'btn'}, 'Cancel');
    const dialog = h('dialog', {class: 'plan-dialog', 'aria-labelledby': 'plan-title', 'data-plan': change.type},
      heading, changed, body, typedField, err,
      h('div', {class: 'actions plan-actions'}, confirmBtn, cancelBtn));
    document.body.append(dialog);

    let plan = null;
    let shownFp = '';
    let sending = false;
    let started = false;
    const close = () => dialog.close();
    cancelBtn.addEventListener('click', close);
    dialog.addEventListener('cancel', (e) => {
      if (sending) e.preventDefault(); // Escape while the request is on its way
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (!started && opener && opener.isConnected && !opener.disabled) opener.focus();
    });
    ctx.onLeave(() => dialog.isConnected && dialog.close());

    function ready() {
      confirmBtn.disabled = sending || !plan || (plan.confirmName && typed.value !== cluster.name);
    }
    typed.addEventListener('input', ready);
    typed.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !confirmBtn.disabled) confirmBtn.click();
    });

    function show(answer, quota) {
      plan = describe(change, cluster, answer, flavors, quota);
      shownFp = fingerprint(answer);
      body.setAttribute('aria-busy', 'false');
      clear(body, planView(plan));
      typedField.hidden = !plan.confirmName;
      if (!plan.confirmName) typed.value = '';
      ready();
    }

    function refused(e) {
      plan = null;
      body.setAttribute('aria-busy', 'false');
      const d = e.details || {};
      clear(body, h('div', {class: 'verdict verdict-bad'},
        h('p', {}, h('strong', {}, e.status === 409 ? 'Not now. ' : e.status === 422 ? 'Does not fit. ' : 'Refused. '), e.message),
        Array.isArray(d.exceeded) ? h('ul', {}, d.exceeded.map((s) => h('li', {}, shortfallText(s)))) : null,
        e.code === 'quota_exceeded' ? h('p', {}, h('a', {href: `/quota/${enc(cluster.team)}`}, `Ask for more quota for ${cluster.team}`)) : null,
        h('p', {class: 'muted small'}, 'Nothing was changed.')));
      ready();
    }

    async function preview() {
      try {
        const [answer, quota] = await Promise.all([send(change, true), teamQuota()]);
        if (!dialog.isConnected) return;
        show(answer, quota);
      } catch (e) {
        if (e.name === 'AbortError' || !dialog.isConnected) return;
        refused(e);
      }
    }

    confirmBtn.addEventListener('click', async () => {
      if (confirmBtn.disabled) return;
      sending = true;
      err.textContent = '';
      ready();
      const label = confirmBtn.textContent;
      confirmBtn.textContent = 'Checking the plan…';
      try {
        // Is the plan on screen still the plan? Ask again, compare, and only then do it.
        const [fresh, answer, quota] = await Promise.all([
          get(`/clusters/${enc(id)}`, {signal: ctx.signal}), send(change, true), teamQuota()]);
        if (fingerprint(answer) !== shownFp) {
          cluster = fresh;
          changed.hidden = false;
          changed.textContent = 'The cluster changed since this plan was shown, so nothing was submitted. ' +
            'This is the plan now: review it and confirm again.';
          show(answer, quota);
          typed.value = '';
          ready();
          heading.focus();
          reload().catch(() => {});
          return;
        }
        confirmBtn.textContent = 'Starting…';
        const r = await send(change, false);
        started = true;
        const same = fingerprint(r) === shownFp;
        dialog.close();
        pinned = '';
        if (r && r.operation) op = r.operation;
        result(change, r.operation, same);
        await reload();
        poll();
        const opTitle = document.getElementById('op-title');
        if (opTitle) opTitle.focus();
      } catch (e) {
        if (e.name === 'AbortError') return;
        if (e.status === 409 || e.status === 422 || e.status === 400) {
          // Refused now though the plan was fine: something changed in between.
          changed.hidden = false;
          changed.textContent = 'The cluster changed since this plan was shown: nothing was submitted.';
          refused(e);
          reload().catch(() => {});
        } else {
          err.textContent = `${e.message} Nothing was started.`;
        }
      } finally {
        sending = false;
        if (dialog.isConnected) confirmBtn.textContent = label;
        ready();
      }
    });

    dialog.showModal();
    heading.focus();
    preview();
  }

  function planView(p) {
    const nodeItem = (n) => h('li', {}, h('strong', {}, n.name), ` ${n.role}, ${n.flavor || 'physical host'} · ${kindLabel(n.kind)}`,
      n.kind === 'vm' ? h('span', {class: 'muted'}, ` (${n.vcpus} vCPU, ${n.memory_gib} GiB)`) : null);
    const q = p.quotaAfter;
    return [
      p.warnings.length ? h('ul', {class: 'plan-warnings', 'aria-label': 'Warnings'},
        p.warnings.map((w) => h('li', {class: 'warning'}, w))) : null,
      h('dl', {class: 'facts plan-facts'},
        h('dt', {}, 'Masters'), h('dd', {class: 'plan-masters'}, after(cluster.masters.count, p.type === 'delete' ? 0 : p.mastersAfter)),
        h('dt', {}, 'Workers'), h('dd', {class: 'plan-workers'}, after(cluster.workers.count, p.type === 'delete' ? 0 : p.workersAfter))),
      p.added.length ? [h('h3', {}, `Nodes added (${p.added.length})`), h('ul', {class: 'plan-added'}, p.added.map(nodeItem))] : null,
      p.removed.length ? [h('h3', {}, `Nodes removed (${p.removed.length})`), h('ul', {class: 'plan-removed'}, p.removed.map(nodeItem))] : null,
      p.resized.length || p.replaced.length ? [h('h3', {}, 'Masters re-sized'), h('ul', {class: 'plan-resized'},
        p.resized.map((r) => h('li', {}, h('strong', {}, r.name), `: ${r.from.flavor} → ${r.to.flavor} (${r.to.vcpus} vCPU, ${r.to.memory_gib} GiB), in place`)),
        p.replaced.map((r) => h('li', {}, h('strong', {}, r.from.name), ` (${r.from.flavor}, ${kindLabel(r.from.kind)}) is replaced by `,
          h('strong', {}, r.to.name), ` (${r.to.flavor}, ${kindLabel(r.to.kind)})`)))] : null,
      q ? h('div', {class: 'bars plan-quota'}, h('p', {class: 'muted small'}, `Quota of ${cluster.team} once done:`),
        bar('Clusters', q.after.clusters, q.limits.clusters),
        bar('vCPU', q.after.vcpus, q.limits.vcpus),
        bar('Memory', q.after.memory_gib, q.limits.memory_gib, ' GiB'),
        q.limits.physical_hosts || q.usage.physical_hosts || q.after.physical_hosts
          ? bar('Physical hosts', q.after.physical_hosts, q.limits.physical_hosts) : null) : null,
      p.notes.length ? h('ul', {class: 'plan-notes'}, p.notes.map((n) => h('li', {}, n))) : null,
      h('h3', {}, `Steps (${p.steps.length})`),
      h('ol', {class: 'plan-steps', 'aria-label': 'Steps'}, p.steps.map((s) => h('li', {}, s))),
    ];
  }

  const after = (before, then) => (before === then ? String(before) : `${before} → ${then}`);

  // Says what started, where a screen reader hears it (role=status), and whether kaas took
  // exactly the plan that was confirmed.
  function result(change, operation, same) {
    const steps = operation ? operation.steps.length : 0;
    actions.announce(same
      ? `${CONFIRM_LABEL[change.type](change)}: started as planned (${steps} steps).`
      : `${CONFIRM_LABEL[change.type](change)}: started, but kaas planned it differently at that moment ` +
        `(the cluster changed while you confirmed). The steps above are what runs; cancel the operation if that is not what you want.`,
    same ? 'ok' : 'warn');
  }

  function actionForm(titleText, name, fields, submitLabel, changeOf, {danger = false, hint} = {}) {
    const err = h('p', {class: 'form-error', role: 'alert', 'data-error-for': ''});
    const submit = h('button', {type: 'submit', class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`}, submitLabel);
    const form = h('form', {class: `action${danger ? ' action-danger' : ''}`, 'data-action': name, novalidate: true},
      h('h3', {}, titleText), hint ? h('p', {class: 'muted small'}, hint) : null,
      h('div', {class: 'action-row'}, fields, submit),
      err);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      clearErrors(form);
      err.textContent = '';
      if (submit.disabled) return;
      const change = changeOf();
      if (change.error) {
        showError(form, change.error, err);
        return;
      }
      openPlan(change, submit);
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
      }, announce() {}};
    }

    const workers = h('input', {type: 'number', min: 0, max: 500, step: 1, inputmode: 'numeric',
      value: cluster.workers.count});
    const scaleForm = actionForm('Scale workers', 'scale-workers',
      field('Workers', 'count', workers), 'Preview scale', () => {
        const n = Number(workers.value);
        if (workers.value.trim() === '' || !Number.isInteger(n) || n < 0) {
          return {error: {message: 'count must be a whole number, 0 or more', details: {field: 'count'}}};
        }
        return {type: 'workers', count: n};
      }, {hint: 'Masters are resized with the workers when the count crosses 50 or 100.'});

    const masterCount = select([], {});
    const countForm = actionForm('Masters', 'masters-count',
      field('Master count', 'count', masterCount), 'Preview change',
      () => ({type: 'masters', count: Number(masterCount.value)}),
      {hint: '1, 3 or 5: etcd membership changes one member at a time.'});

    const masterFlavor = select([], {});
    const flavorForm = actionForm('Master size', 'masters-flavor',
      field('Master flavor', 'flavor', masterFlavor), 'Preview resize',
      () => ({type: 'flavor', flavor: masterFlavor.value}),
      {hint: 'Masters are resized one at a time; a change between VM and physical replaces them.'});

    const target = select([], {});
    const batch = h('input', {type: 'number', min: 1, max: 500, step: 1, inputmode: 'numeric', value: 1});
    const upgradeForm = actionForm('Upgrade Kubernetes', 'upgrade',
      [field('Target version', 'kubernetes_version', target), field('Workers at a time', 'max_unavailable', batch)],
      'Preview upgrade', () => {
        const n = Number(batch.value);
        if (batch.value.trim() === '' || !Number.isInteger(n) || n < 1) {
          return {error: {message: 'workers at a time must be a whole number, 1 or more', details: {field: 'max_unavailable'}}};
        }
        return {type: 'upgrade', version: target.value, maxUnavailable: n};
      }, {hint: 'One minor version at a time, masters first.'});

    // Labels change at once (PATCH, no operation, allowed while one runs): no plan. The save
    // sends only what the user changed since the editor was filled, as a merge patch, so a
    // label someone else set meanwhile stays.
    let labelsBase = cluster.labels || {};
    const editor = labelsEditor(labelsBase, {hint: 'Select clusters by label on the clusters page, e.g. env=prod.'});
    const labelsErr = h('p', {class: 'form-error', role: 'alert'});
    // Disabled from the start: the editor holds the cluster's labels, nothing to save yet.
    const saveLabels = h('button', {type: 'submit', class: 'btn btn-primary', disabled: true}, 'Save labels');
    const labelsForm = h('form', {class: 'action', 'data-action': 'labels', 'aria-label': 'Edit labels', novalidate: true},
      editor.el, h('div', {class: 'action-row'}, saveLabels), labelsErr);
    let savingLabels = false;
    const labelsDirty = () => {
      const r = editor.read();
      return Boolean(r.error) || !sameLabels(r.labels, labelsBase);
    };
    labelsForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(labelsForm);
      labelsErr.textContent = '';
      if (saveLabels.disabled) return;
      const r = editor.read();
      if (r.error) return editor.showError(r.error);
      savingLabels = true;
      saveLabels.disabled = true;
      try {
        const c = await patch(`/clusters/${enc(id)}`, {labels: labelsPatch(labelsBase, r.labels)});
        cluster = {...cluster, labels: c.labels, updated_at: c.updated_at};
        labelsBase = c.labels;
        editor.set(c.labels);
        drawHead();
        announce('Labels saved.', 'ok');
      } catch (err) {
        if (err.name === 'AbortError') return;
        if (!isLabelsField(err.details.field) || !editor.showError(err)) labelsErr.textContent = err.message;
      } finally {
        savingLabels = false;
        sync();
      }
    });
    labelsForm.addEventListener('input', () => sync());
    labelsForm.addEventListener('change', () => sync());

    const deleteForm = actionForm('Delete cluster', 'delete', [], 'Preview delete',
      () => ({type: 'delete'}),
      {danger: true, hint: 'Removes every node and releases its hosts and quota. It cannot be undone.'});

    const busy = h('p', {class: 'notice small', role: 'status'});
    const announced = h('p', {class: 'notice small change-result', role: 'status', 'aria-live': 'polite', hidden: true});
    const forms = [scaleForm, countForm, flavorForm, upgradeForm, deleteForm];
    clear(el, h('h2', {id: 'actions-title'}, 'Actions'), announced, busy, kube, labelsForm, ...forms);

    const upgradeBtn = upgradeForm.querySelector('button[type=submit]');
    const noTarget = h('p', {class: 'muted small none-note'});
    upgradeForm.append(noTarget);

    const rank = (name) => flavors.masters.findIndex((f) => f.name === name);
    // The smallest master flavor the sizing policy allows for `n` workers.
    const policyFlavor = (n) => (flavors.sizing || []).find((s) => n >= s.min_workers && n <= s.max_workers);
    const MASTER_COUNTS = [[1, '1 · no spare'], [3, '3 · survive 1 loss'], [5, '5 · survive 2 losses']];

    // Re-fills the choices only when what they depend on changed, so that a user's pick
    // survives the once-a-second refresh. Each select shows the current value, marked.
    let shown = '';
    function refill() {
      const key = `${cluster.masters.count}|${cluster.masters.flavor}|${cluster.kubernetes_version}|${cluster.workers.count}`;
      if (key === shown) return;
      const firstFill = shown === '';
      shown = key;
      if (firstFill || document.activeElement !== workers) workers.value = cluster.workers.count;
      const cur = (yes) => (yes ? ' (current)' : '');
      fillSelect(masterCount, MASTER_COUNTS.map(([n, label]) => [n, `${label}${cur(n === cluster.masters.count)}`]),
        cluster.masters.count);
      const floor = policyFlavor(cluster.workers.count);
      fillSelect(masterFlavor, flavors.masters.map((f) => [f.name,
        `${f.name} (${f.vcpus} vCPU, ${f.memory_gib} GiB, ${kindLabel(f.kind)})${cur(f.name === cluster.masters.flavor)}`,
        floor && rank(f.name) < rank(floor.master_flavor) && f.name !== cluster.masters.flavor
          ? `too small for ${cluster.workers.count} workers` : '']), cluster.masters.flavor);
      const targets = upgradeTargets(cluster.kubernetes_version, versions.items.map((v) => v.version));
      fillSelect(target, [[cluster.kubernetes_version, `${cluster.kubernetes_version} (current)`],
        ...targets.map((v) => [v, v])], cluster.kubernetes_version);
      noTarget.textContent = targets.length ? '' : `${cluster.kubernetes_version} is the newest version kaas supports.`;
      target.disabled = targets.length === 0;
    }

    // A submit stays disabled until its control differs from what the cluster has.
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
      }
      const n = Number(workers.value);
      const same = {
        'scale-workers': workers.value.trim() === '' || !Number.isInteger(n) || n < 0 || n === cluster.workers.count,
        'masters-count': Number(masterCount.value) === cluster.masters.count,
        'masters-flavor': masterFlavor.value === cluster.masters.flavor ||
          Boolean(masterFlavor.selectedOptions[0] && masterFlavor.selectedOptions[0].disabled),
        upgrade: target.value === cluster.kubernetes_version,
        delete: false,
      };
      for (const f of forms) {
        f.querySelector('button[type=submit]').disabled = active || same[f.dataset.action];
      }
      if (target.options.length <= 1) upgradeBtn.disabled = true;
      // Labels changed elsewhere show up in the editor unless the user is editing it.
      if (!labelsDirty() && !sameLabels(cluster.labels, labelsBase)) {
        labelsBase = cluster.labels || {};
        editor.set(labelsBase);
      }
      labelsForm.hidden = gone || cluster.status === 'deleting';
      saveLabels.disabled = savingLabels || !labelsDirty();
    }
    for (const c of [workers, masterCount, masterFlavor, target]) {
      c.addEventListener('input', sync);
      c.addEventListener('change', sync);
    }

    function announce(text, level) {
      announced.hidden = false;
      announced.className = `notice small change-result notice-${level}`;
      announced.textContent = text;
    }
    return {el, sync, announce};
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

function fact(label, value, note, cls = '') {
  return h('div', {class: ['fact', cls]}, h('div', {class: 'fact-label'}, label),
    h('div', {class: 'fact-value'}, value), note ? h('div', {class: 'fact-note muted small'}, note) : null);
}

// Options [value, label, disabledWhy?]; keeps the user's pick when it is still offered,
// else selects `current`.
function fillSelect(sel, options, current) {
  const keep = sel.value;
  clear(sel, options.map(([v, label, why]) => h('option', {value: v, disabled: Boolean(why)},
    why ? `${label} · ${why}` : label)));
  const ok = (v) => options.some(([x, , why]) => String(x) === String(v) && !why);
  if (keep && ok(keep)) sel.value = keep;
  else if (current !== undefined) sel.value = String(current);
}
