// The portal in a real browser (Debian's chromium, headless) against a real kaasd with the
// simulated datacenter (--sim-delay-ms 150, so operations take visible time).

import assert from 'node:assert/strict';
import {readFile} from 'node:fs/promises';
import http from 'node:http';
import {after, before, describe, test} from 'node:test';
import {ADMIN_PASSWORD, PASSWORD, client, launchBrowser, loginPage, startKaasd} from './support.mjs';

let kaasd;
let browser;
let admin;

before(async () => {
  kaasd = await startKaasd(['--fault-injection', 'true', '--webhook-allow-loopback', 'true',
    '--webhook-retry-base-ms', '300']);
  admin = await client(kaasd.url).login('admin', ADMIN_PASSWORD);
  for (const team of ['payments', 'logistics']) await admin.post('/teams', {name: team});
  for (const [user, team, role] of [['alice', 'payments', 'member'], ['victor', 'payments', 'viewer'],
    ['olga', 'logistics', 'member'], ['tina', 'payments', 'admin']]) {
    await admin.post('/users', {username: user, password: PASSWORD});
    await admin.put(`/teams/${team}/members/${user}`, {role});
  }
  await admin.put('/teams/payments/quota', {limits: {physical_hosts: 4}}); // room for physical masters
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (kaasd) await kaasd.stop();
});

// Waits until `locator` contains `text` (a string or RegExp).
async function waitText(locator, text, timeout = 15000) {
  await locator.filter({hasText: text}).first().waitFor({timeout});
}

describe('login', () => {
  test('a wrong password says so next to the form', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${kaasd.url}/`);
    await page.waitForURL(/\/login\?next=/); // not logged in: the portal sends you to the form
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', {name: 'Log in'}).click();
    await waitText(page.locator('#login-error'), 'Wrong username or password.');
    assert.equal(new URL(page.url()).pathname, '/login');
    await page.close();
  });

  test('too many failures show the Retry-After wait', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${kaasd.url}/login`);
    await page.getByLabel('Username').fill('mallory');
    const limited = page.waitForResponse((r) => r.url().endsWith('/auth/login') && r.status() === 429);
    for (let i = 0; i < 8; i++) {
      await page.getByLabel('Password').fill(`guess-number-${i}`);
      const res = page.waitForResponse((r) => r.url().endsWith('/auth/login'));
      await page.getByRole('button', {name: 'Log in'}).click();
      if ((await res).status() === 429) break;
      // The page clears the password field when it shows the 401; type the next guess only
      // after that, or the cleared field swallows it and the next click sends nothing.
      await waitText(page.locator('#login-error'), 'Wrong username or password.');
    }
    const res = await limited;
    const wait = Number(res.headers()['retry-after']);
    assert.ok(wait > 0, 'a 429 carries Retry-After');
    await waitText(page.locator('#login-error'), /Too many failed attempts\. Wait \d+ s/);
    assert.equal(await page.getByRole('button', {name: 'Log in'}).isDisabled(), true);
    await page.close();
  });
});

describe('a team member', () => {
  test('creates a dev cluster, watches it come up, changes it through plans, and deletes it', async (t) => {
    const page = await loginPage(browser.context, kaasd.url, 'alice', PASSWORD);
    await page.getByRole('link', {name: 'Create cluster'}).first().click();
    await page.getByLabel('Name').fill('web-dev');
    await page.getByLabel('Purpose').selectOption('dev');

    // The dry run shows what kaas will build before anything exists.
    const preview = page.locator('#plan-preview');
    await waitText(preview, '3 × m.small');
    await waitText(preview, 'Quota: fits');
    assert.match(await preview.textContent(), /issue PKI/);
    const before = await admin.get('/clusters?team=payments');
    assert.equal(before.items.length, 0, 'the preview created nothing');

    // An error from the API lands next to the field it names.
    await page.getByLabel('Count').fill('501');
    await waitText(page.locator('[data-error-for="workers.count"]'), '500');
    await page.getByLabel('Count').fill('3');
    await waitText(preview, '3 × w.medium');

    // From here on the page is never reloaded: every status the heading shows is recorded.
    await page.evaluate(() => {
      window.__sameDocument = true;
      window.__states = [];
      new MutationObserver(() => {
        const badge = document.querySelector('#main h1 .badge');
        if (badge && window.__states.at(-1) !== badge.textContent) window.__states.push(badge.textContent);
      }).observe(document.getElementById('main'), {childList: true, subtree: true, characterData: true});
    });
    await page.getByRole('button', {name: 'Create cluster'}).click();
    await page.waitForURL((u) => /^\/clusters\/(?!new$)[^/]+$/.test(u.pathname));
    const id = new URL(page.url()).pathname.split('/').pop();

    // It reaches running with no reload: the timeline and the badge update by themselves.
    const heading = page.locator('h1');
    await waitText(heading, 'running', 90000);
    const states = await page.evaluate(() => window.__states);
    assert.equal(states[0], 'provisioning', `statuses seen: ${states}`);
    assert.equal(states.at(-1), 'running');
    const steps = page.locator('.timeline .step');
    assert.ok((await steps.count()) >= 8);
    assert.equal(await page.locator('.timeline .step-succeeded').count(), await steps.count());
    assert.equal(await page.locator('table.nodes tbody tr').count(), 6);
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was not reloaded');

    // Every change goes through a plan. `changes` records every non-GET request the page
    // sends for this cluster, so a test can say that nothing but dry runs went out.
    const changes = [];
    page.on('request', (r) => {
      if (r.method() !== 'GET' && r.url().includes(`/api/v1/clusters/${id}`)) changes.push(`${r.method()} ${r.url()}`);
    });
    const dialog = page.getByRole('dialog');
    // The steps below build on each other: after a failure the rest fail at once (loudly,
    // naming the first), instead of each waiting for its own timeout.
    let broken = '';
    const step = (name, fn) => t.test(name, async () => {
      if (broken) throw new Error(`not run: "${broken}" failed first`);
      try {
        await fn();
      } catch (e) {
        broken = name;
        throw e;
      }
    });
    const opsOf = async () => (await admin.get(`/clusters/${id}/operations`)).items;

    // Opens the plan of `form` (its submit), waits for the steps and checks that nothing but
    // dry runs was sent and no operation was created. Returns the step names shown.
    async function planOf(form, button) {
      const before = (await opsOf()).length;
      const sent = changes.length;
      await form.getByRole('button', {name: button}).click();
      await dialog.locator('.plan-steps li').first().waitFor();
      assert.equal(await page.evaluate(() => document.activeElement.id), 'plan-title', 'focus moves to the plan');
      const steps = await dialog.locator('.plan-steps li').allTextContents();
      assert.ok(steps.length >= 2, `the plan has steps: ${steps}`);
      assert.match(steps.at(-1), /^(verify|release) cluster$/);
      for (const c of changes.slice(sent)) assert.match(c, /[?&]dry_run=true$/, `only dry runs before confirm: ${c}`);
      assert.equal((await opsOf()).length, before, 'the preview created no operation');
      return steps;
    }

    // Confirms the plan on screen; the operation kaas runs has exactly the steps shown.
    async function confirm(steps, type) {
      const sent = changes.length;
      const answer = page.waitForResponse((r) => r.request().method() !== 'GET' && r.url().includes(`/clusters/${id}`) &&
        !r.url().includes('dry_run'));
      await dialog.locator('button[data-confirm]').click();
      const res = await answer;
      assert.equal(res.status(), 202, `${res.url()}: ${await res.text()}`); // a missing route fails here
      const started = await res.json();
      await dialog.waitFor({state: 'detached'});
      assert.equal(started.operation.type, type);
      assert.deepEqual(started.operation.steps.map((s) => s.name), steps, 'confirm ran exactly the plan shown');
      const real = changes.slice(sent).filter((c) => !c.includes('dry_run'));
      assert.equal(real.length, 1, `one real request per confirm: ${changes.slice(sent)}`);
      await waitText(page.locator('.change-result'), 'started as planned');
      // The operation's end is read from the API first: the page's heading may still show the
      // previous operation of the same type as "succeeded".
      const op = await admin.waitOperation(started.operation.id, 120000);
      assert.equal(op.state, 'succeeded');
      await waitText(page.locator('.op-head h2'), type.replace('_', ' '));
      await waitText(page.locator('.op-head h2'), 'succeeded', 90000);
      await waitText(heading, 'running');
      assert.deepEqual(op.steps.map((s) => s.name), steps);
      return started.operation;
    }

    await step('scale workers: the submit waits for a different count, the plan shows the new node', async () => {
      const form = page.locator('form[data-action="scale-workers"]');
      const btn = form.getByRole('button', {name: 'Preview scale'});
      assert.equal(await btn.isDisabled(), true, 'nothing to preview at the current count');
      await form.getByLabel('Workers').fill('4');
      assert.equal(await btn.isDisabled(), false);
      const steps = await planOf(form, 'Preview scale');
      assert.deepEqual(steps, ['provision worker-4', 'join workers', 'verify cluster']);
      await waitText(dialog.locator('.plan-added'), 'worker-4');
      await waitText(dialog.locator('.plan-workers'), '3 → 4');
      await waitText(dialog.locator('.plan-quota'), 'vCPU');
      assert.equal(await dialog.locator('.plan-warnings').count(), 0, 'adding a worker warns about nothing');
      await confirm(steps, 'scale_workers');
      await waitText(page.locator('.summary'), '4 × w.medium');
      assert.equal(await page.locator('table.nodes tbody tr').count(), 7);
      assert.equal(await page.evaluate(() => window.__sameDocument), true);
    });

    await step('a plan that no longer holds is shown again, not run', async () => {
      const form = page.locator('form[data-action="scale-workers"]');
      await form.getByLabel('Workers').fill('2');
      const steps = await planOf(form, 'Preview scale');
      assert.deepEqual(steps, ['drain worker-4, worker-3', 'remove worker-4, worker-3', 'verify cluster']);
      await waitText(dialog.locator('.plan-warnings'), '2 workers are drained and removed (worker-4, worker-3)');
      // Someone else scales the cluster to 5 while the plan is on screen.
      const other = await admin.post(`/clusters/${id}/workers`, {count: 5});
      await admin.waitOperation(other.operation.id);
      const before = (await opsOf()).length;
      await dialog.locator('button[data-confirm]').click();
      await waitText(dialog.locator('.plan-changed'), 'The cluster changed since this plan was shown');
      await waitText(dialog.locator('.plan-warnings'), '3 workers are drained and removed (worker-5, worker-4, worker-3)');
      assert.equal((await opsOf()).length, before, 'the stale plan was not submitted');
      const fresh = await dialog.locator('.plan-steps li').allTextContents();
      assert.deepEqual(fresh, ['drain worker-5, worker-4, worker-3', 'remove worker-5, worker-4, worker-3', 'verify cluster']);
      await confirm(fresh, 'scale_workers');
      await waitText(page.locator('.summary'), '2 × w.medium');
    });

    await step('another operation in between: the 409 is said, nothing runs', async () => {
      const form = page.locator('form[data-action="scale-workers"]');
      await form.getByLabel('Workers').fill('3');
      await planOf(form, 'Preview scale');
      // A colleague's operation starts (and stays running a while) before the confirm.
      await admin.put('/faults', {rules: [{on: 'step', match: 'verify cluster', action: 'delay', delay_ms: 3000}]});
      const other = await admin.post(`/clusters/${id}/workers`, {count: 4});
      const before = (await opsOf()).length;
      await dialog.locator('button[data-confirm]').click();
      await waitText(dialog.locator('.plan-changed'), 'nothing was submitted');
      await waitText(dialog, 'has an active scale_workers operation');
      assert.equal(await dialog.locator('button[data-confirm]').isDisabled(), true);
      assert.equal((await opsOf()).length, before, 'nothing was submitted');
      await page.keyboard.press('Escape');
      await dialog.waitFor({state: 'detached'});
      await admin.waitOperation(other.operation.id);
      await admin.put('/faults', {rules: []});
      await waitText(page.locator('.summary'), '4 × w.medium');
      await waitText(heading, 'running');
    });

    await step('masters 3 → 1: warned, and not without typing the name', async () => {
      const form = page.locator('form[data-action="masters-count"]');
      const select = form.getByLabel('Master count');
      assert.match(await select.locator('option:checked').textContent(), /^3 .*\(current\)$/);
      const btn = form.getByRole('button', {name: 'Preview change'});
      assert.equal(await btn.isDisabled(), true, 'the current count offers nothing to change');
      await select.selectOption('1');
      const steps = await planOf(form, 'Preview change');
      assert.deepEqual(steps, ['health gate (3 etcd voters)', 'remove master-3 from etcd', 'destroy master-3',
        'health gate (2 etcd voters)', 'remove master-2 from etcd', 'destroy master-2', 'verify cluster']);
      await waitText(dialog.locator('.plan-warnings'), 'The cluster will no longer survive the loss of a master');
      await waitText(dialog.locator('.plan-warnings'), 'fewer than a dev cluster has by default (3)');
      await waitText(dialog.locator('.plan-removed'), 'master-2');
      await waitText(dialog.locator('.plan-removed'), 'master-3');
      // One click is not enough: the confirm waits for the cluster's name.
      const go = dialog.locator('button[data-confirm]');
      assert.equal(await go.isDisabled(), true);
      await go.click({force: true}).catch(() => {});
      const typed = dialog.getByLabel('Type web-dev to confirm');
      await typed.fill('web-de');
      assert.equal(await go.isDisabled(), true);
      assert.equal((await opsOf()).filter((o) => o.type === 'scale_masters').length, 0, 'no masters change yet');
      await typed.fill('web-dev');
      assert.equal(await go.isDisabled(), false);
      await confirm(steps, 'scale_masters');
      await waitText(page.locator('.summary'), '1 × m.small');
    });

    await step('master size: the physical move is warned; Escape leaves; a single master resize says the API pauses', async () => {
      const form = page.locator('form[data-action="masters-flavor"]');
      const select = form.getByLabel('Master flavor');
      assert.match(await select.locator('option:checked').textContent(), /^m\.small .*\(current\)$/);
      await select.selectOption('m.large');
      const opener = form.getByRole('button', {name: 'Preview resize'});
      await planOf(form, 'Preview resize');
      await waitText(dialog.locator('.plan-warnings'), 'Masters move to physical hosts');
      await waitText(dialog.locator('.plan-resized'), 'is replaced by');
      await page.keyboard.press('Escape');
      await dialog.waitFor({state: 'detached'});
      assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Preview resize', 'focus returns to the opener');
      assert.equal(await opener.isDisabled(), false);
      await select.selectOption('m.medium');
      const steps = await planOf(form, 'Preview resize');
      await waitText(dialog.locator('.plan-warnings'), 'The Kubernetes API is unavailable while the single master is resized');
      await waitText(dialog.locator('.plan-resized'), 'master-1: m.small → m.medium');
      await confirm(steps, 'resize_masters');
      await waitText(page.locator('.summary'), '1 × m.medium');
    });

    await step('upgrade: workers in batches, no way back', async () => {
      const form = page.locator('form[data-action="upgrade"]');
      const select = form.getByLabel('Target version');
      const current = (await admin.get(`/clusters/${id}`)).kubernetes_version;
      assert.equal(await select.locator('option:checked').textContent(), `${current} (current)`);
      const next = await select.locator('option').nth(1).getAttribute('value');
      await select.selectOption(next);
      await form.getByLabel('Workers at a time').fill('2');
      const steps = await planOf(form, 'Preview upgrade');
      await waitText(dialog.locator('.plan-warnings'), 'Workers are drained and upgraded in batches of 2');
      await waitText(dialog.locator('.plan-warnings'), `cannot be downgraded`);
      assert.ok(steps.includes(`upgrade worker-1, worker-2 to ${next}`), steps.join('\n'));
      await confirm(steps, 'upgrade');
      await waitText(page.locator('.summary'), next);
    });

    await step('cancel a running operation, then retry it', async () => {
      await admin.put('/faults', {rules: [{on: 'step', match: 'provision worker-5', action: 'delay', delay_ms: 2500}]});
      const form = page.locator('form[data-action="scale-workers"]');
      await form.getByLabel('Workers').fill('5');
      await planOf(form, 'Preview scale');
      await dialog.locator('button[data-confirm]').click();
      await dialog.waitFor({state: 'detached'});
      await page.getByRole('button', {name: 'Cancel operation'}).click();
      await waitText(page.locator('.op-head h2'), 'cancelled', 30000);
      await admin.put('/faults', {rules: []});
      const op = (await opsOf())[0];
      assert.equal(op.state, 'cancelled');
      await page.getByRole('button', {name: 'Retry operation'}).click();
      await waitText(page.locator('.op-head h2'), 'succeeded', 60000);
      assert.equal((await admin.get(`/operations/${op.id}`)).state, 'succeeded');
      await waitText(page.locator('.summary'), '5 × w.medium');
    });

    await step('download the kubeconfig', async () => {
      const download = page.waitForEvent('download');
      await page.getByRole('button', {name: 'Download kubeconfig'}).click();
      const file = await download;
      assert.equal(file.suggestedFilename(), 'web-dev-kubeconfig.yaml');
      const yaml = await readFile(await file.path(), 'utf8');
      assert.match(yaml, /kind: Config/);
      assert.match(yaml, /client-certificate-data:/);
    });

    await step('replace a node from the node list: its plan, then a repair operation', async () => {
      const c = await admin.get(`/clusters/${id}`);
      const workers = c.nodes.filter((n) => n.role === 'worker').map((n) => n.name);
      const num = (name) => Number(name.split('-').pop());
      const old = workers.slice().sort((a, b) => num(a) - num(b))[0];
      const fresh = `worker-${Math.max(...workers.map(num)) + 1}`;
      const rows = await page.locator('table.nodes tbody tr').count();
      assert.match(await page.locator(`[data-health="${old}"]`).textContent(), /healthy|unknown/);
      const before = (await opsOf()).length;
      const sent = changes.length;
      await page.locator(`button[data-repair="${old}"]`).click();
      await dialog.locator('.plan-steps li').first().waitFor();
      const steps = await dialog.locator('.plan-steps li').allTextContents();
      assert.deepEqual(steps, [`provision ${fresh}`, 'join workers', `drain ${old}`, `remove ${old}`,
        'verify cluster']);
      await waitText(dialog.locator('.plan-added'), fresh);
      await waitText(dialog.locator('.plan-removed'), old);
      for (const x of changes.slice(sent)) assert.match(x, /[?&]dry_run=true$/, `only dry runs before confirm: ${x}`);
      assert.equal((await opsOf()).length, before, 'the preview created no operation');
      await confirm(steps, 'repair');
      assert.equal(await page.locator(`button[data-repair="${old}"]`).count(), 0, `${old} is gone`);
      assert.equal(await page.locator('table.nodes tbody tr').count(), rows);
    });

    await step('delete: the plan, then the name, then confirm', async () => {
      const form = page.locator('form[data-action="delete"]');
      const steps = await planOf(form, 'Preview delete');
      assert.deepEqual(steps, ['remove workers', 'remove masters', 'release cluster']);
      await waitText(dialog.locator('.plan-warnings'), 'Every node of web-dev is destroyed (6 nodes)');
      await waitText(dialog.locator('.plan-warnings'), 'cannot be undone');
      await waitText(dialog.locator('.plan-quota'), 'Clusters');
      const go = dialog.locator('button[data-confirm]');
      assert.equal(await go.isDisabled(), true);
      await dialog.getByLabel('Type web-dev to confirm').fill('web-de');
      assert.equal(await go.isDisabled(), true);
      assert.equal((await admin.get(`/clusters/${id}`)).status, 'running', 'not deleted before confirm');
      await dialog.getByLabel('Type web-dev to confirm').fill('web-dev');
      const answer = page.waitForResponse((r) => r.request().method() === 'DELETE' && !r.url().includes('dry_run'));
      await go.click();
      const started = await (await answer).json();
      assert.deepEqual(started.operation.steps.map((s) => s.name), steps);
      await waitText(heading, 'deleted', 90000);
      await waitText(page.locator('.actions-panel'), 'This cluster has been deleted.');
      assert.equal(await page.evaluate(() => window.__sameDocument), true);
    });
    assert.deepEqual(page.errors, []);
    await page.close();
  });
});

describe('roles', () => {
  let clusterId;
  before(async () => {
    const r = await admin.post('/clusters', {name: 'shared', team: 'payments', purpose: 'personal',
      workers: {count: 1, kind: 'vm', flavor: 'w.small'}, labels: {env: 'staging'}});
    clusterId = r.cluster.id;
    await admin.waitOperation(r.operation.id);
  });

  test('a viewer sees the cluster but no action buttons', async () => {
    const page = await loginPage(browser.context, kaasd.url, 'victor', PASSWORD);
    await waitText(page.locator('table.clusters'), 'shared');
    assert.equal(await page.getByRole('link', {name: 'Create cluster'}).count(), 0);
    await page.getByRole('link', {name: 'shared'}).click();
    await waitText(page.locator('h1'), 'running');
    await page.locator('table.nodes').waitFor();
    assert.equal(await page.locator('form[data-action]').count(), 0);
    await waitText(page.locator('.summary .fact-labels'), 'env=staging'); // labels are shown, not editable
    for (const name of ['Preview scale', 'Preview change', 'Preview resize', 'Preview upgrade', 'Preview delete',
      'Cancel operation', 'Retry operation', 'Save labels', 'Add label']) {
      assert.equal(await page.getByRole('button', {name}).count(), 0, `no "${name}" button for a viewer`);
    }
    await waitText(page.locator('.actions-panel'), 'viewer');
    // Viewers still get a kubeconfig: GET /clusters/{id}/kubeconfig is a read.
    assert.equal(await page.getByRole('button', {name: 'Download kubeconfig'}).count(), 1);
    await page.goto(`${kaasd.url}/quota/payments`);
    await page.locator('#quota-bars').waitFor();
    assert.equal(await page.getByRole('button', {name: 'File request'}).count(), 0);
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  test("another team's cluster URL shows not found", async () => {
    const page = await loginPage(browser.context, kaasd.url, 'olga', PASSWORD);
    await page.goto(`${kaasd.url}/clusters/${clusterId}`);
    await waitText(page.locator('h1'), 'Not found');
    assert.doesNotMatch(await page.locator('main').textContent(), /shared/);
    await page.goto(`${kaasd.url}/admin`);
    await waitText(page.locator('h1'), 'Not found');
    await page.close();
  });
});

describe('labels', () => {
  // olga is a member of logistics: these clusters are the only ones she sees.
  const ids = {};
  before(async () => {
    const ops = [];
    for (const [name, labels] of [['lab-a', {env: 'prod', tier: 'web'}], ['lab-b', {env: 'prod', tier: 'db'}],
      ['lab-c', {env: 'dev', legacy: ''}]]) {
      const r = await admin.post('/clusters', {name, team: 'logistics', purpose: 'personal',
        workers: {count: 1, kind: 'vm', flavor: 'w.small'}, labels});
      ids[name] = r.cluster.id;
      ops.push(r.operation.id);
    }
    for (const op of ops) await admin.waitOperation(op);
  });

  // The cluster names the list shows once the page for `selector` is drawn (the "Clear" link
  // is there only on a filtered page, so the table is not the previous page's).
  async function listed(page) {
    await page.locator('.selector-form').getByRole('link', {name: 'Clear'}).waitFor();
    await page.locator('table.clusters').waitFor();
    return (await page.locator('table.clusters a.cluster-name').allTextContents()).sort();
  }
  const selectorOf = (page) => new URL(page.url()).searchParams.get('selector');

  test('labels typed in the create form reach the cluster page and the list', async () => {
    const page = await loginPage(browser.context, kaasd.url, 'olga', PASSWORD);
    await page.getByRole('link', {name: 'Create cluster'}).first().click();
    await page.getByLabel('Name').fill('lab-new');
    await page.getByLabel('Purpose').selectOption('personal');
    await page.getByLabel('Count').fill('1');
    await page.getByRole('button', {name: 'Add label'}).click();
    await page.getByLabel('Label 1 key', {exact: true}).fill('env');
    await page.getByLabel('Label 1 value', {exact: true}).fill('-qa');
    // The dry run already checks the labels: the API's error sits under them.
    await waitText(page.locator('[data-error-for="labels"]'), 'labels.env: a label value must be empty or');
    await page.getByLabel('Label 1 value', {exact: true}).fill('qa');
    await page.getByRole('button', {name: 'Add label'}).click();
    await page.getByLabel('Label 2 key', {exact: true}).fill('owner');
    await page.getByLabel('Label 2 value', {exact: true}).fill('olga');
    await waitText(page.locator('#plan-preview'), 'Quota: fits');
    assert.equal(await page.locator('[data-error-for="labels"]').textContent(), '');
    await page.getByRole('button', {name: 'Create cluster'}).click();
    await page.waitForURL((u) => /^\/clusters\/(?!new$)[^/]+$/.test(u.pathname));
    const id = new URL(page.url()).pathname.split('/').pop();
    assert.deepEqual((await admin.get(`/clusters/${id}`)).labels, {env: 'qa', owner: 'olga'});
    const chips = page.locator('.summary .fact-labels .label-chip');
    await chips.first().waitFor();
    assert.deepEqual(await chips.allTextContents(), ['env=qa', 'owner=olga']);
    await page.getByRole('link', {name: 'Clusters'}).first().click();
    const row = page.locator('table.clusters tbody tr').filter({hasText: 'lab-new'});
    await row.waitFor();
    assert.deepEqual(await row.locator('.label-chip').allTextContents(), ['env=qa', 'owner=olga']);
    assert.deepEqual(await page.locator('table.clusters tbody tr').filter({hasText: 'lab-c'}).locator('.label-chip')
      .allTextContents(), ['env=dev', 'legacy=']);
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  test('a selector lists only the matching clusters, asks the API for them and stays in the URL', async () => {
    const page = await loginPage(browser.context, kaasd.url, 'olga', PASSWORD);
    await page.locator('table.clusters').waitFor();
    const all = await page.locator('table.clusters a.cluster-name').allTextContents();
    assert.ok(['lab-a', 'lab-b', 'lab-c'].every((n) => all.includes(n)), `unfiltered: ${all}`);
    const asked = page.waitForRequest((r) => r.url().includes('/api/v1/clusters?') &&
      new URL(r.url()).searchParams.get('selector') === 'env=prod,tier!=db');
    await page.getByLabel('Label selector').fill('env=prod,tier!=db');
    await page.getByRole('button', {name: 'Filter'}).click();
    await asked; // filtered by the server, not in the page
    assert.deepEqual(await listed(page), ['lab-a']);
    assert.equal(selectorOf(page), 'env=prod,tier!=db');
    await page.reload();
    assert.deepEqual(await listed(page), ['lab-a']);
    assert.equal(await page.getByLabel('Label selector').inputValue(), 'env=prod,tier!=db');

    // A link with another selector: set-based and existence requirements.
    await page.goto(`${kaasd.url}/?selector=${encodeURIComponent('env in (dev,prod),!tier')}`);
    assert.deepEqual(await listed(page), ['lab-c']);
    await page.goto(`${kaasd.url}/?selector=${encodeURIComponent('env=nowhere')}`);
    await waitText(page.locator('.empty'), 'No cluster matches the selector');
    assert.equal(await page.locator('table.clusters').count(), 0);
    await page.locator('.empty').getByRole('link', {name: 'Show all clusters'}).click();
    await page.waitForURL((u) => u.pathname === '/' && !u.search);
    await waitText(page.locator('table.clusters'), 'lab-b');
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  test("a malformed selector shows the API's error, not an empty list", async () => {
    const bad = 'env=prod,';
    const expected = await admin.call('GET', `/clusters?selector=${encodeURIComponent(bad)}`, undefined, [400]);
    assert.equal(expected.error.details.field, 'selector');
    const page = await loginPage(browser.context, kaasd.url, 'olga', PASSWORD);
    await page.locator('table.clusters').waitFor();
    await page.getByLabel('Label selector').fill(bad);
    await page.getByRole('button', {name: 'Filter'}).click();
    const slot = page.locator('.selector-form [data-error-for="selector"]');
    await waitText(slot, 'position');
    assert.equal(await slot.textContent(), expected.error.message);
    assert.equal(await page.getByLabel('Label selector').getAttribute('aria-invalid'), 'true');
    assert.equal(selectorOf(page), bad);
    await waitText(page.locator('.cluster-list'), 'No clusters are listed until the label selector is fixed.');
    assert.equal(await page.locator('table.clusters').count(), 0);
    assert.equal(await page.locator('.empty').count(), 0, 'no "no clusters" state for a bad selector');
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  test('the labels editor saves a merge patch; an invalid key is refused and changes nothing', async () => {
    const id = ids['lab-c'];
    const page = await loginPage(browser.context, kaasd.url, 'olga', PASSWORD);
    await page.goto(`${kaasd.url}/clusters/${id}`);
    const form = page.locator('form[data-action="labels"]');
    const chips = page.locator('.summary .fact-labels .label-chip');
    await chips.first().waitFor();
    assert.deepEqual(await chips.allTextContents(), ['env=dev', 'legacy=']);
    const save = form.getByRole('button', {name: 'Save labels'});
    assert.equal(await save.isDisabled(), true, 'nothing to save before a change');
    // Rows are sorted by key: env, legacy. Change env, remove legacy, add owner.
    assert.equal(await form.getByLabel('Label 1 key', {exact: true}).inputValue(), 'env');
    await form.getByLabel('Label 1 value', {exact: true}).fill('prod');
    await form.getByRole('button', {name: 'Remove label 2'}).click();
    await form.getByRole('button', {name: 'Add label'}).click();
    await form.getByLabel('Label 2 key', {exact: true}).fill('owner');
    await form.getByLabel('Label 2 value', {exact: true}).fill('olga');
    const sent = page.waitForRequest((r) => r.method() === 'PATCH');
    await save.click();
    assert.deepEqual(JSON.parse((await sent).postData()), {labels: {legacy: null, env: 'prod', owner: 'olga'}});
    await waitText(page.locator('.change-result'), 'Labels saved.');
    assert.deepEqual((await admin.get(`/clusters/${id}`)).labels, {env: 'prod', owner: 'olga'});
    assert.deepEqual(await chips.allTextContents(), ['env=prod', 'owner=olga']);
    assert.equal(await save.isDisabled(), true);

    // A key the API refuses: its message under the rows, and nothing changed.
    await form.getByRole('button', {name: 'Add label'}).click();
    await form.getByLabel('Label 3 key', {exact: true}).fill('bad key!');
    await form.getByLabel('Label 3 value', {exact: true}).fill('x');
    const answer = page.waitForResponse((r) => r.request().method() === 'PATCH');
    await save.click();
    assert.equal((await answer).status(), 400);
    await waitText(form.locator('[data-error-for="labels"]'), 'labels: the name of a label key must be');
    assert.deepEqual((await admin.get(`/clusters/${id}`)).labels, {env: 'prod', owner: 'olga'});
    assert.deepEqual(await chips.allTextContents(), ['env=prod', 'owner=olga']);
    assert.equal(await form.getByLabel('Label 3 key', {exact: true}).inputValue(), 'bad key!', 'the typed row stays to be fixed');
    await form.getByRole('button', {name: 'Remove label 3'}).click();
    assert.equal(await save.isDisabled(), true, 'back to the saved labels');

    // The list shows the saved labels.
    await page.getByRole('link', {name: 'Clusters'}).first().click();
    const row = page.locator('table.clusters tbody tr').filter({hasText: 'lab-c'});
    await row.waitFor();
    assert.deepEqual(await row.locator('.label-chip').allTextContents(), ['env=prod', 'owner=olga']);
    assert.deepEqual(page.errors, []);
    await page.close();
  });
});

describe('webhooks', () => {
  test('a team admin adds a webhook, tests it and reads its delivery log; a viewer cannot', async () => {
    const received = [];
    const receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        received.push(JSON.parse(body));
        res.writeHead(received.length === 1 ? 500 : 200).end('{}'); // the first attempt fails
      });
    });
    await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${receiver.address().port}/hook`;

    const tina = await loginPage(browser.context, kaasd.url, 'tina', PASSWORD);
    await tina.getByRole('link', {name: 'Webhooks'}).click();
    await tina.waitForURL(/\/webhooks\/payments$/);
    const form = tina.getByRole('form', {name: 'Add a webhook'});
    await form.getByLabel('URL').fill(url);
    await form.getByLabel('Format').selectOption('slack');
    await form.getByLabel('A cluster is ready').check();
    await tina.getByRole('button', {name: 'Add webhook'}).click();
    const hooks = tina.locator('table.webhooks');
    await waitText(hooks, url);
    await waitText(hooks, 'cluster.created');
    await hooks.getByRole('button', {name: 'Test'}).click();
    const log = tina.locator('table.deliveries');
    await waitText(log, '500');
    await waitText(log, '200', 20000); // the retry, picked up by the page itself
    assert.equal(received.length, 2);
    assert.equal(received[0].text, received[1].text);
    assert.match(received[0].text, /test notification from kaas for team payments — by tina/);
    assert.deepEqual(tina.errors, []);
    await tina.close();

    const victor = await loginPage(browser.context, kaasd.url, 'victor', PASSWORD);
    assert.equal(await victor.getByRole('link', {name: 'Webhooks'}).count(), 0);
    await victor.goto(`${kaasd.url}/webhooks/payments`);
    await waitText(victor.locator('main'), /not found/i);
    await victor.close();
    receiver.close();
  });
});

describe('quota', () => {
  test('a member asks for more, an admin approves, the team page shows the new limit', async () => {
    const alice = await loginPage(browser.context, kaasd.url, 'alice', PASSWORD);
    await alice.getByRole('link', {name: 'Quota'}).click();
    await alice.waitForURL(/\/quota\/payments$/);
    const bars = alice.locator('#quota-bars');
    await waitText(bars, '/ 64');
    const form = alice.getByRole('form', {name: 'Ask for more quota'});
    await form.getByLabel('vCPU').fill('160');
    await form.getByLabel('Reason').fill('load tests for the Q3 launch');
    await alice.getByRole('button', {name: 'File request'}).click();
    await waitText(alice.locator('table.requests'), 'pending');

    const boss = await loginPage(browser.context, kaasd.url, 'admin', ADMIN_PASSWORD);
    await boss.getByRole('link', {name: 'Admin'}).click();
    const card = boss.locator('article.request').filter({hasText: 'payments'});
    await waitText(card, 'load tests for the Q3 launch');
    await waitText(card, '64 → 160');
    await card.getByLabel('Comment').fill('approved for Q3');
    await card.getByRole('button', {name: 'Approve'}).click();
    await waitText(boss.locator('main'), 'Nothing to decide');

    // Alice's page picks the decision up by itself.
    await waitText(bars, '/ 160', 20000);
    await waitText(alice.locator('table.requests'), 'approved');
    await waitText(alice.locator('table.requests'), 'approved for Q3');
    assert.deepEqual(alice.errors, []);
    assert.deepEqual(boss.errors, []);

    // Logging out forgets the token and ends the session on the server too.
    const token = await alice.evaluate(() => sessionStorage.getItem('kaas.token'));
    await alice.getByRole('button', {name: 'Log out'}).click();
    await waitText(alice.locator('main'), 'You are logged out.');
    assert.equal(await alice.evaluate(() => sessionStorage.getItem('kaas.token')), null);
    const me = await fetch(`${kaasd.url}/api/v1/me`, {headers: {Authorization: `Bearer ${token}`}});
    assert.equal(me.status, 401);
    await alice.close();
    await boss.close();
  });
});

describe('a platform admin', () => {
  test('sees the inventory, manages people and reads the audit log', async () => {
    // A cluster with a physical worker, so that the inventory shows an allocated host.
    const r = await admin.post('/clusters', {name: 'metal', team: 'payments', purpose: 'personal',
      workers: {count: 1, kind: 'physical'}});
    await admin.waitOperation(r.operation.id);
    const page = await loginPage(browser.context, kaasd.url, 'admin', ADMIN_PASSWORD);

    await page.goto(`${kaasd.url}/admin/inventory`);
    const hvs = page.locator('table.hypervisors');
    await waitText(hvs, 'sim-1');
    const hypervisors = await admin.get('/hypervisors');
    assert.equal(await hvs.locator('tbody tr').count(), hypervisors.items.length);
    const hosts = page.locator('table.hosts');
    await waitText(hosts, 'payments/metal');
    assert.equal(await hosts.locator('tbody tr').count(), (await admin.get('/hosts')).items.length);
    await waitText(page.locator('#hosts-title'), '1 allocated');

    await page.getByRole('link', {name: 'Users & teams'}).click();
    await page.locator('table.users').waitFor();
    const newUser = page.getByRole('form', {name: 'New user'});
    await newUser.getByLabel('Username').fill('nina');
    await newUser.getByLabel('Password').fill(PASSWORD);
    await newUser.getByRole('button', {name: 'Create user'}).click();
    await waitText(page.locator('table.users'), 'nina');
    const newTeam = page.getByRole('form', {name: 'New team'});
    await newTeam.getByLabel('Team name').fill('search');
    await newTeam.getByRole('button', {name: 'Create team'}).click();
    await waitText(page.locator('#members-title'), 'Members of search');
    const add = page.getByRole('form', {name: 'Add a member to search'});
    await add.getByLabel('Username').fill('nina');
    await add.getByLabel('Role').selectOption('viewer');
    await add.getByRole('button', {name: 'Add member'}).click();
    await page.getByLabel('Role of nina').waitFor();
    assert.equal(await page.getByLabel('Role of nina').inputValue(), 'viewer');
    const put = page.waitForResponse((x) => x.url().endsWith('/teams/search/members/nina') && x.request().method() === 'PUT');
    await page.getByLabel('Role of nina').selectOption('admin');
    assert.equal((await put).status(), 200);
    assert.deepEqual((await admin.get('/teams/search/members')).items.map((m) => [m.username, m.role]), [['nina', 'admin']]);
    await page.getByRole('button', {name: 'Remove nina'}).click();
    await waitText(page.locator('#members-title').locator('..'), 'No members yet.');
    assert.equal((await admin.get('/teams/search/members')).items.length, 0);

    await page.getByRole('link', {name: 'Audit log'}).click();
    const audit = page.locator('table.audit');
    await waitText(audit, 'DELETE /api/v1/teams/{team}/members/{username}');
    const filters = page.getByRole('form', {name: 'Audit filters'});
    await filters.getByLabel('Team').selectOption('search'); // asked of the server
    await filters.getByLabel('Action').fill('members'); // filtered in the page
    await page.getByText(/^3 of \d+ entries$/).waitFor({timeout: 15000});
    const rows = audit.locator('tbody tr');
    assert.equal(await rows.count(), 3);
    const actions = await audit.locator('tbody td[data-label="Action"]').allTextContents();
    assert.deepEqual(actions, ['DELETE /api/v1/teams/{team}/members/{username}',
      'PUT /api/v1/teams/{team}/members/{username}', 'PUT /api/v1/teams/{team}/members/{username}']);
    assert.deepEqual(new Set(await audit.locator('tbody td[data-label="Team"]').allTextContents()), new Set(['search']));
    await filters.getByLabel('Result').selectOption('error');
    await page.getByText(/^0 of \d+ entries$/).waitFor({timeout: 15000});
    assert.deepEqual(page.errors, []);
    await page.close();
  });
});

describe('static files', () => {
  test('the portal is served with its content types and no way out of web/', async () => {
    const get = (p) => fetch(`${kaasd.url}${p}`);
    const index = await get('/');
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type'), /^text\/html/);
    assert.match(index.headers.get('content-security-policy'), /default-src 'self'/);
    assert.match((await get('/js/main.js')).headers.get('content-type'), /^text\/javascript/);
    assert.match((await get('/app.css')).headers.get('content-type'), /^text\/css/);
    const deep = await get('/clusters/cl-anything');
    assert.equal(deep.status, 200, 'client-side routes get index.html');
    assert.match(await deep.text(), /<main id="main"/);
    assert.equal((await get('/js/missing.js')).status, 404);
    // Raw paths: fetch() would normalise the dot segments away before sending them.
    const raw = (p) => new Promise((resolve, reject) => {
      const {hostname, port} = new URL(kaasd.url);
      http.get({hostname, port, path: p}, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({status: res.statusCode, body}));
      }).on('error', reject);
    });
    for (const p of ['/../CMakeLists.txt', '/%2e%2e/CMakeLists.txt', '/js/../../CMakeLists.txt',
      '/js/%2e%2e/%2e%2e/CMakeLists.txt', '/..%2fCMakeLists.txt', '/..%5cCMakeLists.txt',
      '/%2e%2e/%2e%2e/%2e%2e/etc/passwd']) {
      const r = await raw(p);
      assert.equal(r.status, 404, p);
      assert.doesNotMatch(r.body, /cmake_minimum_required|root:/, p);
    }
    const api = await get('/api/v1/nope');
    assert.equal(api.status, 404);
    assert.match(api.headers.get('content-type'), /application\/json/);
    assert.equal((await get('/healthz')).status, 200);
    assert.match(await (await get('/metrics')).text(), /kaas_up/);
  });
});
