// What a change to a cluster will do, read from the API's dry run (POST/DELETE …?dry_run=true
// answers {cluster, operation, dry_run}) and the cluster as it is now. Pure functions, no DOM:
// tests/web/plan.test.mjs runs them in node.
//
// The dry-run answer lists the cluster's live nodes (in-place resizes already at their new
// size) plus the nodes the change reserves (state "reserved"); the nodes it removes are named
// by its steps ("destroy master-3", "remove worker-3, worker-2", "remove worker-60 … worker-3
// (58 nodes)"), so that is where they are read from.

// "worker-12" -> 12
export const nodeNumber = (name) => Number(String(name).slice(String(name).lastIndexOf('-') + 1));

// How many masters a cluster of `count` can lose and keep its etcd quorum.
export const tolerance = (count) => Math.max(0, Math.floor((count - 1) / 2));

// The node names a step label covers: "worker-4", "worker-3, worker-2", or a long batch
// "worker-60 … worker-3 (58 nodes)", expanded against `nodes` (the cluster's nodes).
export function labelNames(label, nodes) {
  const range = /^(\S+) … (\S+) \((\d+) nodes\)$/.exec(label);
  if (!range) return label.split(', ').map((s) => s.trim()).filter(Boolean);
  const [, a, b] = range;
  const prefix = a.slice(0, a.lastIndexOf('-') + 1);
  const lo = Math.min(nodeNumber(a), nodeNumber(b));
  const hi = Math.max(nodeNumber(a), nodeNumber(b));
  return nodes.map((n) => n.name)
    .filter((name) => name.startsWith(prefix) && nodeNumber(name) >= lo && nodeNumber(name) <= hi);
}

// Names of the nodes the steps destroy. A delete removes every node.
export function removedNames(type, steps, nodes) {
  if (type === 'delete') return nodes.map((n) => n.name);
  const out = [];
  for (const s of steps) {
    const name = typeof s === 'string' ? s : s.name;
    let m = /^destroy (.+)$/.exec(name);
    if (!m) m = /^remove (?!.* from etcd( \(.*\))?$)(.+)$/.exec(name);
    if (m) for (const n of labelNames(m[m.length - 1], nodes)) if (!out.includes(n)) out.push(n);
  }
  return out;
}

// What a plan is, for "is this still the plan I was shown?": the operation type, the step
// names in order, and every node with its role, kind, size and whether the change adds it.
// Ids and times are left out (a dry run's ids are not reserved), and so is placement: kaas
// picks the hypervisor or host, and a different free machine is not a different plan.
export function fingerprint(answer) {
  const nodes = (answer.cluster.nodes || []).map((n) => [n.name, n.role, n.kind, n.flavor, n.vcpus,
    n.memory_gib, n.state === 'reserved']).sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  return JSON.stringify({type: answer.operation.type, steps: answer.operation.steps.map((s) => s.name), nodes});
}

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

// The plan as the portal shows it.
//   change:  {type, count?, flavor?, version?, maxUnavailable?} — what was asked
//   cluster: the cluster now (GET /clusters/{id}, with nodes)
//   answer:  the dry-run answer
//   flavors: GET /flavors (master flavors and master_counts per purpose)
//   quota:   GET /teams/{team}/quota, or null
// Returns {title, steps, added, removed, resized, replaced, warnings, notes, confirmName, quotaAfter}.
export function describe(change, cluster, answer, flavors, quota) {
  const type = answer.operation.type;
  const steps = answer.operation.steps.map((s) => s.name);
  const now = cluster.nodes || [];
  const after = answer.cluster.nodes || [];
  const byName = new Map(now.map((n) => [n.name, n]));
  const added = after.filter((n) => n.state === 'reserved' || !byName.has(n.name));
  const removedSet = new Set(removedNames(type, steps, type === 'delete' ? after : now.concat(added)));
  // In the plan's order (highest-numbered first, as kaas removes them).
  const pool = new Map(now.concat(type === 'delete' ? after : []).map((n) => [n.name, n]));
  const removed = [...removedSet].map((name) => pool.get(name)).filter(Boolean);
  const resized = after.filter((n) => byName.has(n.name) && n.flavor !== byName.get(n.name).flavor)
    .map((n) => ({name: n.name, from: byName.get(n.name), to: n}));
  // A master whose kind changes is replaced: new masters and destroyed ones pair up in order.
  const newMasters = added.filter((n) => n.role === 'master');
  const goneMasters = removed.filter((n) => n.role === 'master');
  const replaced = [];
  if (newMasters.length && goneMasters.length) {
    for (let i = 0; i < Math.min(newMasters.length, goneMasters.length); i++) {
      replaced.push({from: goneMasters[i], to: newMasters[i]});
    }
  }
  const mastersNow = now.filter((n) => n.role === 'master').length || cluster.masters.count;
  const mastersAfter = mastersNow + newMasters.length - goneMasters.length;
  const workersNow = now.filter((n) => n.role === 'worker').length;
  const workersAfter = workersNow + added.filter((n) => n.role === 'worker').length -
    removed.filter((n) => n.role === 'worker').length;

  const warnings = [];
  const notes = [];
  let confirmName = false;
  const defaultMasters = (flavors.master_counts || {})[cluster.purpose] || 1;

  if (type === 'delete') {
    confirmName = true;
    warnings.push(`Every node of ${cluster.name} is destroyed (${plural(removed.length, 'node')}) and its certificates and keys are deleted. This cannot be undone.`);
    const hosts = removed.filter((n) => n.kind === 'physical').length;
    if (hosts) warnings.push(`${plural(hosts, 'physical host')} ${hosts === 1 ? 'is' : 'are'} wiped and returned to the inventory.`);
  }

  if (type !== 'delete' && mastersAfter < mastersNow) {
    const [tb, ta] = [tolerance(mastersNow), tolerance(mastersAfter)];
    if (ta === 0 && tb > 0) {
      warnings.push('The cluster will no longer survive the loss of a master: with 1 master, etcd has no spare member.');
    } else if (ta < tb) {
      warnings.push(`The cluster will survive the loss of only ${plural(ta, 'master')} instead of ${tb}.`);
    }
    if (mastersAfter < defaultMasters) {
      confirmName = true;
      warnings.push(`${plural(mastersAfter, 'master')} is fewer than a ${cluster.purpose} cluster has by default (${defaultMasters}).`);
    }
    notes.push(`Masters leave etcd one at a time (${goneMasters.map((n) => n.name).join(', ')}): each is removed from etcd before its machine is destroyed.`);
  }
  if (type !== 'delete' && mastersAfter > mastersNow) {
    notes.push(`Masters join etcd one at a time: each new master is added as a learner and promoted to voter once it has caught up. The cluster will survive the loss of ${plural(tolerance(mastersAfter), 'master')}.`);
  }

  const kindNow = cluster.masters.kind;
  if (replaced.length) {
    const kindAfter = replaced[0].to.kind;
    if (kindAfter === 'physical' && kindNow !== 'physical') {
      warnings.push(`Masters move to physical hosts: ${plural(replaced.length, 'master')} ${replaced.length === 1 ? 'is' : 'are'} replaced, one at a time, by ${replaced[0].to.flavor} masters on physical hosts.`);
    } else if (kindAfter === 'vm' && kindNow === 'physical') {
      warnings.push(`Masters move from physical hosts back to VMs: ${plural(replaced.length, 'master')} ${replaced.length === 1 ? 'is' : 'are'} replaced, one at a time.`);
    } else {
      notes.push(`${plural(replaced.length, 'master')} ${replaced.length === 1 ? 'is' : 'are'} replaced, one at a time.`);
    }
  }
  if (resized.length) {
    const to = resized[0].to.flavor;
    if (mastersNow === 1) {
      warnings.push('The Kubernetes API is unavailable while the single master is resized.');
    } else {
      notes.push(`Masters are resized to ${to} in place, one at a time: each is powered off, resized and started again, with a health gate before each.`);
    }
  }
  if (type === 'scale_workers' && (resized.length || replaced.length)) {
    const to = (resized[0] || replaced[0]).to.flavor;
    notes.push(`The sizing policy needs ${to} masters for ${plural(workersAfter, 'worker')}: the masters are re-sized ${workersAfter > workersNow ? 'before the workers are added' : 'after the workers are removed'}.`);
  }

  const goneWorkers = removed.filter((n) => n.role === 'worker');
  if (type !== 'delete' && goneWorkers.length) {
    warnings.push(`${plural(goneWorkers.length, 'worker')} ${goneWorkers.length === 1 ? 'is' : 'are'} drained and removed (${shortList(goneWorkers.map((n) => n.name))}): ${goneWorkers.length === 1 ? 'its' : 'their'} pods are evicted to the other workers.`);
    if (workersAfter === 0) warnings.push('No worker will be left: only the control plane runs, workloads cannot be scheduled.');
  }

  if (type === 'upgrade') {
    const batch = change.maxUnavailable || 1;
    notes.push(`Masters are upgraded first, one at a time, with a health gate before each.`);
    if (workersNow) {
      warnings.push(`Workers are drained and upgraded in batches of ${batch}: ${plural(batch, 'worker')} at a time ${batch === 1 ? 'is' : 'are'} out of service.`);
    }
    warnings.push(`Kubernetes cannot be downgraded: after the upgrade the cluster stays on ${change.version}.`);
  }

  let quotaAfter = null;
  if (quota) {
    const vm = (list, k) => list.filter((n) => n.kind === 'vm').reduce((a, n) => a + (n[k] || 0), 0);
    const phys = (list) => list.filter((n) => n.kind === 'physical').length;
    const grow = (k) => resized.reduce((a, r) => a + ((r.to.kind === 'vm' ? r.to[k] : 0) - (r.from.kind === 'vm' ? r.from[k] : 0)), 0);
    const u = quota.usage;
    quotaAfter = {
      limits: quota.limits,
      usage: u,
      after: {
        clusters: u.clusters - (type === 'delete' ? 1 : 0),
        vcpus: u.vcpus + vm(added, 'vcpus') - vm(removed, 'vcpus') + grow('vcpus'),
        memory_gib: u.memory_gib + vm(added, 'memory_gib') - vm(removed, 'memory_gib') + grow('memory_gib'),
        physical_hosts: u.physical_hosts + phys(added) - phys(removed),
      },
    };
  }

  return {type, title: titleOf(change, cluster), steps, added, removed, resized, replaced, warnings,
    notes, confirmName, quotaAfter, mastersAfter, workersAfter};
}

function shortList(names) {
  return names.length <= 4 ? names.join(', ') : `${names.slice(0, 3).join(', ')} … ${names.at(-1)}`;
}

export function titleOf(change, cluster) {
  switch (change.type) {
    case 'workers': return `Scale workers of ${cluster.name}: ${cluster.workers.count} → ${change.count}`;
    case 'masters': return `Change the masters of ${cluster.name}: ${cluster.masters.count} → ${change.count}`;
    case 'flavor': return `Resize the masters of ${cluster.name}: ${cluster.masters.flavor} → ${change.flavor}`;
    case 'upgrade': return `Upgrade ${cluster.name}: Kubernetes ${cluster.kubernetes_version} → ${change.version}`;
    case 'delete': return `Delete ${cluster.name}`;
    case 'repair': return `Replace node ${change.node} of ${cluster.name}`;
    default: return change.type;
  }
}
