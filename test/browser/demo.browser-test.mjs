// `npm run test:browser`: the demo page and client library in real Chromium (Debian's, driven by
// playwright-core), against the built app with a short ACCESS_TOKEN_TTL. Screenshots of each
// step land in test-results/.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { chromium } from 'playwright-core';

const ACCESS_TTL_SECONDS = 3;
const SHOTS = 'test-results';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let app;
let base;
let browser;
let dataDir;
let userDataDirs = [];

async function startApp() {
  const port = await freePort();
  dataDir = mkdtempSync(join(tmpdir(), 'nta-browser-'));
  base = `http://127.0.0.1:${port}`;
  app = spawn(process.execPath, ['dist/main.js'], {
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: `sqlite:${join(dataDir, 'auth.sqlite')}`,
      JWT_ISSUER: base,
      ACCESS_TOKEN_TTL: `${ACCESS_TTL_SECONDS}s`,
      ARGON2_MEMORY_KIB: '1024',
      ARGON2_ITERATIONS: '1',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error('the app did not start');
}

async function newContext() {
  // A fresh profile per context: nothing shared but what the test shares.
  const context = await browser.newContext();
  context.refreshRequests = 0;
  context.on('request', (request) => {
    if (new URL(request.url()).pathname === '/auth/refresh') context.refreshRequests += 1;
  });
  return context;
}

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function loginThroughForm(page, username, password) {
  await page.goto(`${base}/`);
  await page.locator('#signed-out').waitFor({ state: 'visible' });
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('#login-button');
  await page.locator('#signed-in').waitFor({ state: 'visible' });
  await assertText(page, '#current-user', username);
}

async function assertText(page, selector, expected) {
  await page.waitForFunction(
    ([sel, text]) => document.querySelector(sel)?.textContent?.includes(text),
    [selector, expected],
    { timeout: 10_000 },
  );
}

/**
 * Rotations the server made in the user's sessions: one child refresh token each, read from the
 * app's database (routine refreshes are not audit events; the token table is the record).
 */
async function serverRefreshCount(username) {
  const db = new Database(join(dataDir, 'auth.sqlite'), { readonly: true, fileMustExist: true });
  try {
    const row = db
      .prepare(
        `SELECT COUNT(*) AS n FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = s.user_id
          WHERE u.username_normalized = ? AND t.parent_id IS NOT NULL`,
      )
      .get(username.toLowerCase());
    return row.n;
  } finally {
    db.close();
  }
}

async function register(username, password) {
  const response = await fetch(`${base}/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  assert.equal(response.status, 201);
}

describe('demo page in Chromium', () => {
  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await startApp();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  });

  after(async () => {
    await browser?.close();
    app?.kill('SIGTERM');
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    for (const dir of userDataDirs) rmSync(dir, { recursive: true, force: true });
  });

  it('1. logs in through the form and shows the user', async () => {
    const username = `browser_${Date.now().toString(36)}`;
    const password = 'correct horse battery';
    await register(username, password);
    const context = await newContext();
    const page = await context.newPage();
    await loginThroughForm(page, username, password);
    await shot(page, '1-logged-in');
    await context.close();
  });

  it('2. after the access token expires, "call /auth/me" succeeds with exactly one refresh', async () => {
    const username = `expiry_${Date.now().toString(36)}`;
    const password = 'correct horse battery';
    await register(username, password);
    const context = await newContext();
    const page = await context.newPage();
    await loginThroughForm(page, username, password);
    const before = context.refreshRequests;

    await sleep((ACCESS_TTL_SECONDS + 1) * 1000);
    await page.click('#me-button');
    await assertText(page, '#me-result', `"username":"${username}"`);
    assert.equal(context.refreshRequests - before, 1, 'exactly one refresh request');
    // The log pane shows the refresh. The client knows when its token expires, so it usually
    // refreshes before sending; if the request went out first and got a 401, a retry follows.
    const kinds = await page.locator('#log li').evaluateAll((items) => items.map((li) => li.dataset.kind));
    assert.ok(kinds.includes('refresh-success'), 'the refresh was logged');
    if (kinds.includes('401')) assert.ok(kinds.includes('retry'), 'the 401 was followed by a retry');
    await shot(page, '2-refreshed-after-expiry');
    await context.close();
  });

  it('3. two tabs with expired tokens call the API at once: both succeed with one refresh', async () => {
    const username = `tabs_${Date.now().toString(36)}`;
    const password = 'correct horse battery';
    await register(username, password);
    const context = await newContext();
    const tab1 = await context.newPage();
    await loginThroughForm(tab1, username, password);
    // The second tab restores the session from the shared cookie (one refresh) and shows the user.
    const tab2 = await context.newPage();
    await tab2.goto(`${base}/`);
    await assertText(tab2, '#current-user', username);

    await sleep((ACCESS_TTL_SECONDS + 1) * 1000);
    const serverBefore = await serverRefreshCount(username);
    const browserBefore = context.refreshRequests;
    await Promise.all([tab1.click('#me-button'), tab2.click('#me-button')]);
    await assertText(tab1, '#me-result', `"username":"${username}"`);
    await assertText(tab2, '#me-result', `"username":"${username}"`);

    assert.equal(context.refreshRequests - browserBefore, 1, 'one refresh left the browser');
    assert.equal((await serverRefreshCount(username)) - serverBefore, 1, 'one refresh reached the server');
    // Not revoked: both tabs keep working.
    await Promise.all([tab1.click('#me-button'), tab2.click('#me-button')]);
    await assertText(tab1, '#me-result', '200');
    await assertText(tab2, '#me-result', '200');
    await shot(tab1, '3-tab1');
    await shot(tab2, '3-tab2');
    await context.close();
  });

  it('4. a session revoked from another browser sends the first page back to the login form', async () => {
    const username = `revoke_${Date.now().toString(36)}`;
    const password = 'correct horse battery';
    await register(username, password);
    const first = await newContext();
    const page = await first.newPage();
    await loginThroughForm(page, username, password);

    const second = await newContext();
    const other = await second.newPage();
    await loginThroughForm(other, username, password);
    // Two sessions listed; revoke the one that is not this browser's.
    await other.locator('#sessions tbody tr').nth(1).waitFor();
    await other.locator('#sessions tbody tr:not(.current) button').click();
    await other.waitForFunction(() => document.querySelectorAll('#sessions tbody tr').length === 1);
    await shot(other, '4-revoked-from-second-browser');

    await page.click('#me-button');
    await page.locator('#signed-out').waitFor({ state: 'visible', timeout: 10_000 });
    await assertText(page, '#form-message', 'session has ended');
    await shot(page, '4-back-to-login');
    await first.close();
    await second.close();
  });
});
