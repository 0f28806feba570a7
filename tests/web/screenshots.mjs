// Regenerates docs/screenshots/*.png: every page of the portal at 1280×800 and the main
// ones at 390 px wide, against a real kaasd seeded with a few teams and clusters.
// Run through `make screenshots` (or KAASD=build/bin/kaasd tests/web/run.sh screenshots).

import {mkdirSync} from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {ADMIN_PASSWORD, PASSWORD, client, launchBrowser, loginPage, startKaasd} from './support.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(here, '../../docs/screenshots');
mkdirSync(out, {recursive: true});

const kaasd = await startKaasd(['--sim-delay-ms', '400', '--sim-hypervisors', '5']);
const browsers = [];
try {
  const admin = await client(kaasd.url).login('admin', ADMIN_PASSWORD);
  for (const team of ['payments', 'logistics', 'search']) await admin.post('/teams', {name: team});
  for (const [user, team, role] of [['alice', 'payments', 'member'], ['alice', 'logistics', 'viewer'],
    ['bob', 'payments', 'admin'], ['carol', 'search', 'member']]) {
    await admin.call('POST', '/users', {username: user, password: PASSWORD}, [201, 409]);
    await admin.put(`/teams/${team}/members/${user}`, {role});
  }
  await admin.post('/users', {username: 'newcomer', password: PASSWORD});
  await admin.put('/teams/search/quota', {limits: {physical_hosts: 4}});
  await admin.put('/teams/payments/quota', {limits: {vcpus: 160, memory_gib: 640}});

  // A few clusters that are up (fast: the seed does not need the visible delay).
  const create = (b) => admin.post('/clusters', b);
  const done = [];
  for (const b of [
    {name: 'billing-dev', team: 'payments', purpose: 'dev', workers: {count: 3, kind: 'vm', flavor: 'w.medium'}},
    {name: 'billing-prod', team: 'payments', purpose: 'prod', workers: {count: 6, kind: 'vm', flavor: 'w.large'}},
    {name: 'routing', team: 'logistics', purpose: 'personal', workers: {count: 1, kind: 'vm', flavor: 'w.small'}},
    {name: 'indexer', team: 'search', purpose: 'dev', workers: {count: 2, kind: 'physical'}},
  ]) {
    done.push((await create(b)).operation.id);
  }
  for (const id of done) await admin.waitOperation(id, 180000);
  const alice = await client(kaasd.url).login('alice', PASSWORD);
  await alice.post('/teams/payments/quota-requests', {limits: {vcpus: 256, memory_gib: 1024},
    reason: 'Load tests for the autumn sale need a second prod-sized cluster.'});

  const shot = async (page, name, opts = {}) => {
    await page.waitForLoadState('networkidle').catch(() => {});
    await page.screenshot({path: path.join(out, `${name}.png`), animations: 'disabled', ...opts});
    console.log(`docs/screenshots/${name}.png`);
  };

  const wide = await launchBrowser({width: 1280, height: 800});
  browsers.push(wide);
  const ctx = wide.context;

  // Login with the bad-password message.
  const login = await ctx.newPage();
  await login.goto(`${kaasd.url}/login`);
  await login.getByLabel('Username').fill('alice');
  await login.getByLabel('Password').fill('wrong-password');
  await login.getByRole('button', {name: 'Log in'}).click();
  await login.locator('#login-error').filter({hasText: 'Wrong'}).waitFor();
  await shot(login, 'login');
  await login.close();

  const a = await loginPage(ctx, kaasd.url, 'alice', PASSWORD);
  await a.locator('table.clusters .badge').first().waitFor();
  await a.locator('table.clusters').filter({hasNotText: '…'}).waitFor();
  await shot(a, 'clusters');

  await a.goto(`${kaasd.url}/clusters/new`);
  await a.getByLabel('Name').fill('checkout-dev');
  await a.getByLabel('Count').fill('4');
  await a.locator('#plan-preview').filter({hasText: 'Quota: fits'}).waitFor();
  await shot(a, 'create');

  // Over quota: the verdict names the resource, the field says why.
  await a.getByLabel('Count').fill('40');
  await a.locator('#plan-preview').filter({hasText: 'does not fit'}).waitFor();
  await shot(a, 'create-over-quota');

  // A cluster coming up: the live timeline.
  await a.getByLabel('Count').fill('4');
  await a.locator('#plan-preview').filter({hasText: 'Quota: fits'}).waitFor();
  await a.getByRole('button', {name: 'Create cluster'}).click();
  await a.waitForURL((u) => /^\/clusters\/(?!new$)[^/]+$/.test(u.pathname));
  await a.locator('.timeline .step-succeeded').nth(3).waitFor({timeout: 60000});
  await shot(a, 'cluster-creating');
  await a.locator('h1').filter({hasText: 'running'}).waitFor({timeout: 120000});
  await shot(a, 'cluster');

  // Plans of changes: 3 -> 1 masters (warnings, the name to type) and an upgrade.
  await a.goto(`${kaasd.url}/`);
  await a.getByRole('link', {name: 'billing-dev'}).click();
  await a.locator('table.nodes').waitFor();
  const masters = a.locator('form[data-action="masters-count"]');
  await masters.getByLabel('Master count').selectOption('1');
  await masters.getByRole('button', {name: 'Preview change'}).click();
  await a.getByRole('dialog').locator('.plan-steps li').first().waitFor();
  await shot(a, 'plan-masters');
  await a.keyboard.press('Escape');
  const upgrade = a.locator('form[data-action="upgrade"]');
  await upgrade.getByLabel('Target version').selectOption({index: 1});
  await upgrade.getByLabel('Workers at a time').fill('2');
  await upgrade.getByRole('button', {name: 'Preview upgrade'}).click();
  await a.getByRole('dialog').locator('.plan-steps li').first().waitFor();
  await shot(a, 'plan-upgrade');
  await a.keyboard.press('Escape');

  await a.goto(`${kaasd.url}/quota/payments`);
  await a.locator('table.requests').waitFor();
  await shot(a, 'quota');

  const boss = await loginPage(ctx, kaasd.url, 'admin', ADMIN_PASSWORD);
  await boss.getByRole('link', {name: 'Admin'}).click();
  await boss.locator('article.request').first().waitFor();
  await shot(boss, 'admin-requests');
  await boss.getByRole('link', {name: 'Inventory'}).click();
  await boss.locator('table.hypervisors').waitFor();
  await shot(boss, 'admin-inventory');
  await boss.getByRole('link', {name: 'Users & teams'}).click();
  await boss.locator('table.members').waitFor();
  await shot(boss, 'admin-people');
  await boss.getByRole('link', {name: 'Audit log'}).click();
  await boss.locator('table.audit').waitFor();
  await shot(boss, 'admin-audit');

  const newcomer = await loginPage(ctx, kaasd.url, 'newcomer', PASSWORD);
  await newcomer.locator('.empty').waitFor();
  await shot(newcomer, 'clusters-empty');

  // Narrow: a phone, 390 px wide.
  const narrow = await launchBrowser({width: 390, height: 844});
  browsers.push(narrow);
  const n = await loginPage(narrow.context, kaasd.url, 'alice', PASSWORD);
  await n.locator('table.clusters').filter({hasNotText: '…'}).waitFor();
  await shot(n, 'clusters-390', {fullPage: true});
  await n.getByRole('link', {name: 'billing-dev'}).click();
  await n.locator('table.nodes').waitFor();
  await shot(n, 'cluster-390');
} catch (e) {
  console.error(e);
  console.error(`--- kaasd log ---\n${kaasd.log()}`);
  process.exitCode = 1;
} finally {
  for (const b of browsers) await b.close();
  await kaasd.stop();
}
