// Test support: the real kaasd on a free loopback port with its own data dir, a tiny API
// client for setting up users and teams, and Debian's chromium driven by playwright-core.

import {spawn} from 'node:child_process';
import {mkdtempSync, rmSync} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {chromium} from 'playwright-core';

export const ADMIN_PASSWORD = 'correct-horse-battery';
export const PASSWORD = 'long-enough-password';

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const {port} = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The portal under test: web/ of the checkout these tests are in, whichever build's kaasd
// serves it (a binary's default is web/ of the tree it was built from).
const WEB_DIR = fileURLToPath(new URL('../../web', import.meta.url));

// Starts kaasd (the binary in $KAASD) and waits until /readyz answers 200.
export async function startKaasd(extraArgs = []) {
  const bin = process.env.KAASD;
  if (!bin) throw new Error('KAASD must name the kaasd binary (ctest sets it; see tests/web/run.sh)');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kaas-web-'));
  const port = await freePort();
  const args = ['--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--sim-delay-ms', '150',
    '--web-dir', WEB_DIR, ...extraArgs];
  const child = spawn(bin, args, {
    env: {...process.env, KAAS_ADMIN_PASSWORD: ADMIN_PASSWORD},
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = [];
  const keep = (chunk) => {
    log.push(...chunk.toString().split('\n').filter(Boolean));
    if (log.length > 400) log.splice(0, log.length - 400);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = null;
  child.on('exit', (code, sig) => (exited = sig || code));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60000;
  for (;;) {
    if (exited !== null) throw new Error(`kaasd exited (${exited}):\n${log.join('\n')}`);
    try {
      const r = await fetch(`${url}/readyz`);
      if (r.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`kaasd not ready after 60 s:\n${log.join('\n')}`);
    }
    await sleep(100);
  }
  return {
    url,
    dataDir,
    log: () => log.join('\n'),
    async stop() {
      if (exited === null) {
        const done = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
        await done;
        clearTimeout(timer);
      }
      rmSync(dataDir, {recursive: true, force: true});
    },
  };
}

// A minimal client of the REST API for test set-up; throws on unexpected statuses.
export function client(base, token = '') {
  async function call(method, p, body, expect = [200, 201, 202, 204]) {
    const headers = {'Content-Type': 'application/json'};
    if (token) headers.Authorization = `Bearer ${token}`;
    const res = await fetch(`${base}/api/v1${p}`, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
    const text = await res.text();
    const json = text ? JSON.parse(text) : null;
    if (!expect.includes(res.status)) throw new Error(`${method} ${p}: ${res.status} ${text}`);
    return json;
  }
  return {
    call,
    get: (p) => call('GET', p),
    post: (p, b = {}) => call('POST', p, b),
    put: (p, b = {}) => call('PUT', p, b),
    async login(username, password) {
      const r = await call('POST', '/auth/login', {username, password});
      return client(base, r.token);
    },
    async waitOperation(id, timeoutMs = 60000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const op = await call('GET', `/operations/${id}`);
        if (op.state !== 'pending' && op.state !== 'running') return op;
        if (Date.now() > deadline) throw new Error(`operation ${id} still ${op.state}`);
        await sleep(100);
      }
    },
  };
}

// Debian's chromium, headless, with a fresh profile directory. Pages of one context share
// cookies but not sessionStorage, where the portal keeps its token: one page per user.
export async function launchBrowser(viewport = {width: 1280, height: 800}) {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'kaas-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
    acceptDownloads: true,
    timeout: 60000,
  });
  // The persistent context opens one blank page; tests open their own.
  for (const p of context.pages()) await p.close();
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, {recursive: true, force: true});
    },
  };
}

// Opens a page, fails the test on uncaught page errors, and logs in through the form.
export async function loginPage(context, base, username, password) {
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e));
  await page.goto(`${base}/login`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', {name: 'Log in'}).click();
  await page.waitForURL((u) => !u.pathname.startsWith('/login'));
  await page.getByRole('button', {name: 'Log out'}).waitFor();
  return page;
}
