// The portal's plan arithmetic (web/js/plan.js) on dry-run answers shaped like kaasd's.

import assert from 'node:assert/strict';
import {test} from 'node:test';
import {describe as describePlan, fingerprint, labelNames, removedNames, tolerance} from '../../web/js/plan.js';

const node = (name, extra = {}) => ({name, role: name.startsWith('master') ? 'master' : 'worker', kind: 'vm',
  flavor: name.startsWith('master') ? 'm.small' : 'w.medium', vcpus: 4, memory_gib: name.startsWith('master') ? 4 : 8,
  state: 'ready', ...extra});
const flavors = {master_counts: {personal: 1, dev: 3, prod: 5}};
const cluster = (masters, workers, extra = {}) => ({name: 'web', team: 'payments', purpose: 'dev', kubernetes_version: '1.36.3',
  masters: {count: masters, flavor: 'm.small', kind: 'vm'}, workers: {count: workers, flavor: 'w.medium', kind: 'vm'},
  nodes: [...Array(masters)].map((_, i) => node(`master-${i + 1}`)).concat([...Array(workers)].map((_, i) => node(`worker-${i + 1}`))),
  ...extra});
const answer = (c, type, steps, nodes = c.nodes) => ({cluster: {...c, nodes}, operation: {type, steps: steps.map((name) => ({name}))}});
const quota = {limits: {clusters: 5, vcpus: 64, memory_gib: 256, physical_hosts: 4}, usage: {clusters: 1, vcpus: 24, memory_gib: 36, physical_hosts: 0}};

test('tolerance: how many masters a cluster can lose', () => {
  assert.deepEqual([1, 3, 5].map(tolerance), [0, 1, 2]);
});

test('step labels name their nodes, long batches included', () => {
  const nodes = [...Array(60)].map((_, i) => node(`worker-${i + 1}`));
  assert.deepEqual(labelNames('worker-4', nodes), ['worker-4']);
  assert.deepEqual(labelNames('worker-3, worker-2', nodes), ['worker-3', 'worker-2']);
  assert.equal(labelNames('worker-60 … worker-3 (58 nodes)', nodes).length, 58);
  assert.deepEqual(removedNames('scale_masters', ['health gate (3 etcd voters)', 'remove master-3 from etcd', 'destroy master-3'], []),
    ['master-3']);
});

test('3 → 1 masters of a dev cluster: no spare left, below the purpose, the name must be typed', () => {
  const c = cluster(3, 2);
  const p = describePlan({type: 'masters', count: 1}, c, answer(c, 'scale_masters', ['health gate (3 etcd voters)',
    'remove master-3 from etcd', 'destroy master-3', 'health gate (2 etcd voters)', 'remove master-2 from etcd',
    'destroy master-2', 'verify cluster']), flavors, quota);
  assert.deepEqual(p.removed.map((n) => n.name), ['master-3', 'master-2']);
  assert.equal(p.mastersAfter, 1);
  assert.equal(p.confirmName, true);
  assert.match(p.warnings.join('\n'), /no longer survive the loss of a master/);
  assert.deepEqual(p.quotaAfter.after, {clusters: 1, vcpus: 16, memory_gib: 28, physical_hosts: 0});
});

test('5 → 3 masters of a dev cluster: one spare less, no name needed', () => {
  const c = cluster(5, 0);
  const p = describePlan({type: 'masters', count: 3}, c, answer(c, 'scale_masters', ['destroy master-5', 'destroy master-4',
    'verify cluster']), flavors, null);
  assert.equal(p.confirmName, false);
  assert.match(p.warnings.join('\n'), /survive the loss of only 1 master instead of 2/);
});

test('crossing 100 workers: masters move to physical hosts, replaced one by one', () => {
  const c = cluster(3, 100);
  const large = (name) => node(name, {kind: 'physical', flavor: 'm.large', vcpus: 8, memory_gib: 16, state: 'reserved'});
  const after = c.nodes.map((n) => n).concat([large('master-4'), large('master-5'), large('master-6'), node('worker-101', {state: 'reserved'})]);
  const p = describePlan({type: 'workers', count: 101}, c, answer(c, 'scale_workers', ['provision master-4', 'destroy master-1',
    'provision master-5', 'destroy master-2', 'provision master-6', 'destroy master-3', 'provision worker-101', 'join workers',
    'verify cluster'], after), flavors, quota);
  assert.deepEqual(p.replaced.map((r) => `${r.from.name}>${r.to.name}`), ['master-1>master-4', 'master-2>master-5', 'master-3>master-6']);
  assert.match(p.warnings.join('\n'), /Masters move to physical hosts/);
  assert.equal(p.mastersAfter, 3);
  assert.equal(p.quotaAfter.after.physical_hosts, 3);
  assert.equal(p.quotaAfter.after.vcpus, 24 + 4 - 12);
});

test('the fingerprint ignores ids, times and placement, not steps or sizes', () => {
  const c = cluster(1, 1);
  const a = answer(c, 'scale_workers', ['provision worker-2', 'join workers', 'verify cluster'],
    c.nodes.concat([node('worker-2', {state: 'reserved', hypervisor: 'sim-1'})]));
  const moved = structuredClone(a);
  moved.cluster.nodes[2].hypervisor = 'sim-2';
  moved.operation.id = 'op-other';
  assert.equal(fingerprint(moved), fingerprint(a));
  const bigger = structuredClone(a);
  bigger.cluster.nodes[0].flavor = 'm.medium';
  assert.notEqual(fingerprint(bigger), fingerprint(a));
  const more = structuredClone(a);
  more.operation.steps.splice(1, 0, {name: 'provision worker-3'});
  assert.notEqual(fingerprint(more), fingerprint(a));
});
