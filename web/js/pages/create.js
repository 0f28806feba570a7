// Create a cluster. As the user types, POST /clusters?dry_run=true (debounced) shows what
// kaas would build: masters (count × flavor, kind), workers, the step plan and the quota
// verdict. Nothing is created until "Create cluster".

import {get, post, enc} from '../api.js';
import {currentUser, title, failure, operableTeams} from '../app.js';
import {h, clear, field, select, clearErrors, setFieldError, mastersText, workersText, bar} from '../dom.js';
import {navigate} from '../router.js';
import {labelsEditor, isLabelsField} from '../labels.js';

const PURPOSES = [
  ['personal', 'personal: 1 master, for trying things out'],
  ['dev', 'dev: 3 masters, survives 1 failure'],
  ['prod', 'prod: 5 masters, survives 2 failures'],
];

// Which field a quota or capacity shortfall is about.
const RESOURCE_FIELD = {
  clusters: 'team',
  vcpus: 'workers.count',
  memory_gib: 'workers.count',
  physical_hosts: 'workers.count',
  hypervisors: 'masters.count',
};

const RESOURCE_LABEL = {
  clusters: 'clusters',
  vcpus: 'vCPU',
  memory_gib: 'memory (GiB)',
  physical_hosts: 'physical hosts',
  hypervisors: 'hypervisors',
};

export function shortfallText(s) {
  const label = RESOURCE_LABEL[s.resource] || s.resource;
  return `${label}: needs ${s.requested}, ${s.used} in use, limit ${s.limit}`;
}

export async function createPage(ctx) {
  const me = currentUser();
  title(ctx, 'Create cluster');
  let flavors, versions, teams;
  try {
    [flavors, versions, teams] = await Promise.all([
      get('/flavors', {signal: ctx.signal}),
      get('/versions', {signal: ctx.signal}),
      operableTeams(ctx.signal),
    ]);
  } catch (e) {
    return failure(ctx, e);
  }
  if (teams.length === 0) {
    ctx.main.append(h('section', {class: 'empty'},
      h('h2', {}, 'No team you can create clusters in'),
      h('p', {}, me.teams.length
        ? 'Your role in your teams is viewer. Ask a team admin for the member role.'
        : 'Ask your team\'s admin to add you to a team first.')));
    return;
  }
  const defaultVersion = (versions.items.find((v) => v.default) || versions.items.at(-1)).version;
  const wantTeam = ctx.query.get('team');

  const name = h('input', {name: 'name', autocomplete: 'off', maxlength: 40, spellcheck: 'false',
    autocapitalize: 'none', placeholder: 'billing-dev'});
  const team = select(teams, {name: 'team', value: teams.includes(wantTeam) ? wantTeam : teams[0]});
  const purpose = select(PURPOSES, {name: 'purpose', value: 'dev'});
  const version = select(versions.items.map((v) => [v.version, v.default ? `${v.version} (default)` : v.version]),
    {name: 'kubernetes_version', value: defaultVersion});
  const count = h('input', {name: 'workers.count', type: 'number', min: 0, max: 500, step: 1,
    value: 3, inputmode: 'numeric'});
  const kind = select([['vm', 'VM'], ['physical', 'physical host']], {name: 'workers.kind', value: 'vm'});
  const flavor = select(flavors.workers.map((f) => [f.name, `${f.name} · ${f.vcpus} vCPU, ${f.memory_gib} GiB`]),
    {name: 'workers.flavor', value: flavors.default_worker_flavor});
  const masters = select([['', 'as the purpose says'], ['1', '1'], ['3', '3'], ['5', '5']],
    {name: 'masters.count', value: ''});
  const labels = labelsEditor({}, {hint: 'Optional, e.g. env=prod: the clusters page filters by them.'});
  const formError = h('p', {class: 'form-error', role: 'alert'});
  const submit = h('button', {type: 'submit', class: 'btn btn-primary'}, 'Create cluster');

  const form = h('form', {class: 'card create-form', novalidate: true, 'aria-label': 'New cluster'},
    field('Name', 'name', name, 'Lowercase letters, digits and "-", up to 40; unique in the team.'),
    h('div', {class: 'row'}, field('Team', 'team', team), field('Purpose', 'purpose', purpose)),
    h('fieldset', {},
      h('legend', {}, 'Workers'),
      h('div', {class: 'row row-workers'},
        field('Count', 'workers.count', count, '0 to 500; masters grow with it.'),
        field('Kind', 'workers.kind', kind),
        field('Flavor', 'workers.flavor', flavor))),
    h('div', {class: 'row'},
      field('Kubernetes version', 'kubernetes_version', version),
      field('Masters', 'masters.count', masters, '1, 3 or 5: an etcd quorum is never even.')),
    labels.el,
    formError,
    h('div', {class: 'actions'}, submit, h('a', {href: '/', class: 'btn btn-quiet'}, 'Cancel')));

  const preview = h('div', {class: 'preview-body'});
  const aside = h('aside', {class: 'card preview', 'aria-labelledby': 'preview-title'},
    h('h2', {id: 'preview-title'}, 'What kaas will build'),
    h('div', {'aria-live': 'polite', id: 'plan-preview'}, preview));
  ctx.main.append(h('div', {class: 'create-layout'}, form, aside));

  let quota = null;
  let quotaTeam = '';

  function body() {
    const n = count.value.trim() === '' ? NaN : Number(count.value);
    const b = {
      name: name.value.trim(),
      team: team.value,
      purpose: purpose.value,
      kubernetes_version: version.value,
      workers: {count: n, kind: kind.value},
    };
    if (kind.value === 'vm') b.workers.flavor = flavor.value;
    if (masters.value) b.masters = {count: Number(masters.value)};
    const l = labels.read().labels;
    if (l && Object.keys(l).length) b.labels = l;
    return b;
  }

  function localError(b) {
    const l = labels.read();
    if (l.error) return l.error;
    if (!Number.isInteger(b.workers.count) || b.workers.count < 0) {
      return {message: 'workers.count must be a whole number, 0 or more', details: {field: 'workers.count'}};
    }
    return null;
  }

  // Puts an API (or local) error next to its field; quota and capacity shortfalls next to
  // the field that drives the resource.
  function placeError(err) {
    const d = err.details || {};
    if (isLabelsField(d.field)) return labels.showError(err);
    if (d.field) return setFieldError(form, d.field, err.message);
    if (Array.isArray(d.exceeded)) {
      for (const s of d.exceeded) {
        const f = RESOURCE_FIELD[s.resource] || 'workers.count';
        setFieldError(form, f, `${err.code === 'quota_exceeded' ? 'Over quota' : 'Not enough capacity'}: ${shortfallText(s)}`);
      }
      return true;
    }
    if (err.code === 'conflict' || err.code === 'already_exists') return setFieldError(form, 'name', err.message);
    if (err.status === 404) return setFieldError(form, 'team', err.message);
    return false;
  }

  async function teamQuota() {
    if (quotaTeam === team.value) return quota;
    quotaTeam = team.value;
    try {
      quota = await get(`/teams/${enc(team.value)}/quota`, {signal: ctx.signal});
    } catch {
      quota = null;
    }
    return quota;
  }

  function planView(r) {
    const c = r.cluster;
    const nodes = c.nodes || [];
    const sum = (k, pred) => nodes.filter(pred).reduce((a, n) => a + (n[k] || 0), 0);
    const vm = (n) => n.kind === 'vm';
    const phys = nodes.filter((n) => n.kind === 'physical').length;
    const masterNode = nodes.find((n) => n.role === 'master');
    return [
      h('dl', {class: 'facts'},
        h('dt', {}, 'Masters'), h('dd', {class: 'plan-masters'}, mastersText(c.masters),
          masterNode ? h('span', {class: 'muted'}, ` (${masterNode.vcpus} vCPU, ${masterNode.memory_gib} GiB each)`) : null),
        h('dt', {}, 'Workers'), h('dd', {class: 'plan-workers'}, workersText(c.workers)),
        h('dt', {}, 'Kubernetes'), h('dd', {}, c.kubernetes_version),
        h('dt', {}, 'VM resources'), h('dd', {}, `${sum('vcpus', vm)} vCPU, ${sum('memory_gib', vm)} GiB`),
        phys ? [h('dt', {}, 'Physical hosts'), h('dd', {}, String(phys))] : null),
      h('h3', {}, `Plan: ${r.operation.steps.length} steps`),
      h('ol', {class: 'plan-steps'}, r.operation.steps.map((s) => h('li', {}, s.name))),
    ];
  }

  async function verdictOk(r) {
    const q = await teamQuota();
    const parts = [h('p', {class: 'verdict verdict-ok', id: 'quota-verdict'},
      h('strong', {}, 'Quota: fits. '), `${team.value} has room for this cluster.`)];
    if (q) {
      const nodes = r.cluster.nodes || [];
      const vms = nodes.filter((n) => n.kind === 'vm');
      const add = (k) => vms.reduce((a, n) => a + n[k], 0);
      parts.push(h('div', {class: 'bars'},
        h('p', {class: 'muted small'}, 'Team usage once created:'),
        bar('Clusters', q.usage.clusters + 1, q.limits.clusters),
        bar('vCPU', q.usage.vcpus + add('vcpus'), q.limits.vcpus),
        bar('Memory', q.usage.memory_gib + add('memory_gib'), q.limits.memory_gib, ' GiB'),
        q.limits.physical_hosts || nodes.some((n) => n.kind === 'physical')
          ? bar('Physical hosts', q.usage.physical_hosts + (nodes.length - vms.length), q.limits.physical_hosts)
          : null));
    }
    return parts;
  }

  function verdictRefused(err) {
    const d = err.details || {};
    const quotaErr = err.code === 'quota_exceeded';
    return h('div', {class: 'verdict verdict-bad', id: 'quota-verdict'},
      h('p', {}, h('strong', {}, quotaErr ? 'Quota: does not fit. ' : 'Capacity: does not fit. '), err.message),
      Array.isArray(d.exceeded)
        ? h('ul', {}, d.exceeded.map((s) => h('li', {}, shortfallText(s))))
        : null,
      quotaErr ? h('p', {}, h('a', {href: `/quota/${enc(team.value)}`}, `Ask for more quota for ${team.value}`)) : null);
  }

  let timer = null;
  let inflight = null;
  let seq = 0;
  ctx.onLeave(() => {
    clearTimeout(timer);
    if (inflight) inflight.abort();
  });

  async function runPreview() {
    const my = ++seq;
    if (inflight) inflight.abort();
    clearErrors(form);
    formError.textContent = '';
    const b = body();
    const local = localError(b);
    if (local) {
      placeError(local);
      clear(preview, h('p', {class: 'muted'}, 'Fix the highlighted field to see the plan.'));
      return;
    }
    if (!b.name) {
      clear(preview, h('p', {class: 'muted'}, 'Type a name to see what kaas will build.'));
      return;
    }
    preview.classList.add('loading');
    inflight = new AbortController();
    try {
      const r = await post('/clusters?dry_run=true', b, {signal: inflight.signal});
      if (my !== seq) return;
      const verdict = await verdictOk(r);
      if (my !== seq) return;
      clear(preview, planView(r), verdict);
    } catch (err) {
      if (err.name === 'AbortError' || my !== seq) return;
      if (err.status === 422) {
        placeError(err);
        // The plan itself is fine; show the request's shape next to the refusal.
        clear(preview, verdictRefused(err));
      } else {
        placeError(err);
        clear(preview, h('p', {class: 'notice notice-error'}, err.message));
      }
    } finally {
      if (my === seq) preview.classList.remove('loading');
    }
  }

  function schedule() {
    flavor.disabled = kind.value !== 'vm';
    clearTimeout(timer);
    timer = setTimeout(runPreview, 300);
  }
  form.addEventListener('input', schedule);
  form.addEventListener('change', schedule);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearTimeout(timer);
    seq++;
    clearErrors(form);
    formError.textContent = '';
    const b = body();
    const local = localError(b) || (!b.name && {message: 'name is required', details: {field: 'name'}});
    if (local) {
      placeError(local);
      form.querySelector('[aria-invalid]')?.focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Creating…';
    try {
      const r = await post('/clusters', b, {signal: ctx.signal});
      navigate(`/clusters/${enc(r.cluster.id)}`);
    } catch (err) {
      if (err.name === 'AbortError') return;
      submit.disabled = false;
      submit.textContent = 'Create cluster';
      if (!placeError(err)) formError.textContent = err.message;
      if (err.status === 422) clear(preview, verdictRefused(err));
      form.querySelector('[aria-invalid]')?.focus();
    }
  });

  name.focus();
  runPreview();
}
