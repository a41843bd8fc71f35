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
import { launchChromium } from '../utils/chromium.mjs';

const ACCESS_TTL_SECONDS = 3;
const SHOTS = 'test-results';

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

async function newContext(options = {}) {
  // A fresh profile per context: nothing shared but what the test shares.
  const context = await browser.newContext(options);
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

/** Waits until the log pane holds each line (after its timestamp), in that order. */
async function assertLogged(page, lines) {
  await page
    .waitForFunction(
      (expected) => {
        // Each line starts with its time ("8:39:24 AM  ").
        const texts = [...document.querySelectorAll('#log li')].map((li) =>
          li.textContent.replace(/^\S+(\s[AP]M)?\s+/, ''),
        );
        let at = 0;
        for (const text of texts) if (at < expected.length && text.startsWith(expected[at])) at += 1;
        return at === expected.length;
      },
      lines,
      { timeout: 10_000 },
    )
    .catch(async () => {
      const texts = await page.locator('#log li').allTextContents();
      assert.fail(`the log lacks ${JSON.stringify(lines)}:\n${texts.join('\n')}`);
    });
}

async function hasClass(page, selector, name) {
  return page.locator(selector).evaluate((element, cls) => element.classList.contains(cls), name);
}

/** The user switches back to this tab (from another window): the page sees it become visible again. */
async function comeBackTo(page) {
  await page.bringToFront();
  await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
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
    browser = await launchChromium();
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

  it('5. register and log out show in the request log; "Logged out." is information, not an error', async () => {
    const username = `logbook_${Date.now().toString(36)}`;
    const password = 'correct horse battery';
    const context = await newContext();
    const page = await context.newPage();
    await page.goto(`${base}/`);
    await page.locator('#signed-out').waitFor({ state: 'visible' });
    await page.fill('#username', username);
    await page.fill('#password', password);
    await page.click('#register-button');
    await assertText(page, '#form-message', 'Account created');
    await assertLogged(page, ['→ POST /auth/register', '← 201 /auth/register']);
    assert.equal(await hasClass(page, '#form-message', 'error'), false, 'success is not shown as an error');

    // Registering a taken name is logged with the server's answer, and is an error.
    await page.click('#register-button');
    await assertText(page, '#form-message', 'already taken');
    await assertLogged(page, ['← 409 /auth/register: Username is already taken']);
    assert.equal(await hasClass(page, '#form-message', 'error'), true);

    await page.click('#login-button');
    await page.locator('#signed-in').waitFor({ state: 'visible' });
    await page.click('#logout-button');
    await page.locator('#signed-out').waitFor({ state: 'visible' });
    await assertText(page, '#form-message', 'Logged out.');
    await assertLogged(page, ['→ POST /auth/logout', '← 204 /auth/logout']);
    assert.equal(await hasClass(page, '#form-message', 'error'), false, '"Logged out." is not an error');
    assert.equal(await hasClass(page, '#form-message', 'info'), true, '"Logged out." is shown as information');
    // Nothing of the signed-out user stays in the page.
    assert.equal(await page.locator('#sessions tbody tr').count(), 0);
    await shot(page, '5-logged-out');
    await context.close();
  });

  it('6. the sessions table follows refreshes, logins and logouts without a reload', async () => {
    const username = `table_${Date.now().toString(36)}`;
    const password = 'correct horse battery';
    await register(username, password);
    const first = await newContext();
    const tab1 = await first.newPage();
    await loginThroughForm(tab1, username, password);
    await tab1.locator('#sessions tbody tr.current').waitFor();
    const lastUsed = () => tab1.locator('#sessions tbody tr.current td').nth(3).textContent();
    const before = await lastUsed();

    // A refresh moves "Last used" (the table shows seconds).
    await sleep(1100);
    await tab1.click('#refresh-button');
    await tab1.waitForFunction(
      (text) => document.querySelector('#sessions tbody tr.current td:nth-child(4)')?.textContent !== text,
      before,
      { timeout: 10_000 },
    );

    // A refresh in another tab of this browser reaches this tab's table too.
    const tab2 = await first.newPage();
    await tab2.goto(`${base}/`);
    await assertText(tab2, '#current-user', username);
    const afterOwnRefresh = await lastUsed();
    await sleep(1100);
    await tab2.click('#refresh-button');
    await tab1.waitForFunction(
      (text) => document.querySelector('#sessions tbody tr.current td:nth-child(4)')?.textContent !== text,
      afterOwnRefresh,
      { timeout: 10_000 },
    );

    // Another device logs in, then out: coming back to this tab shows it, then shows it gone.
    const second = await newContext();
    const other = await second.newPage();
    await loginThroughForm(other, username, password);
    await comeBackTo(tab1);
    await tab1.waitForFunction(() => document.querySelectorAll('#sessions tbody tr').length === 2, null, {
      timeout: 10_000,
    });
    await shot(tab1, '6-two-devices');
    await other.click('#logout-button');
    await other.locator('#signed-out').waitFor({ state: 'visible' });
    await comeBackTo(tab1);
    await tab1.waitForFunction(() => document.querySelectorAll('#sessions tbody tr').length === 1, null, {
      timeout: 10_000,
    });
    await first.close();
    await second.close();
  });

  it('7. the device column shows browser and OS, the full User-Agent on hover', async () => {
    const username = `device_${Date.now().toString(36)}`;
    const password = 'correct horse battery';
    await register(username, password);
    const userAgent = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0';
    const context = await newContext({ userAgent });
    const page = await context.newPage();
    await loginThroughForm(page, username, password);
    // A second session from a command-line client.
    const login = await fetch(`${base}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'curl/8.5.0' },
      body: JSON.stringify({ username, password }),
    });
    assert.equal(login.status, 200);
    await page.reload();
    await page.waitForFunction(() => document.querySelectorAll('#sessions tbody tr').length === 2, null, {
      timeout: 10_000,
    });

    const current = page.locator('#sessions tbody tr.current td').first();
    assert.equal(await current.textContent(), 'Firefox 128 on Windows 10 (this one)');
    assert.equal(await current.getAttribute('title'), userAgent);
    const cli = page.locator('#sessions tbody tr:not(.current) td').first();
    assert.equal(await cli.textContent(), 'curl/8.5.0');
    assert.equal(await cli.getAttribute('title'), 'curl/8.5.0');
    await shot(page, '7-devices');
    await context.close();
  });

  it('8. the page has a favicon', async () => {
    const context = await newContext();
    const page = await context.newPage();
    const missing = [];
    page.on('response', (response) => {
      if (response.status() >= 400) missing.push(`${response.status()} ${new URL(response.url()).pathname}`);
    });
    await page.goto(`${base}/`);
    await page.locator('#signed-out').waitFor({ state: 'visible' });
    const icon = await page.evaluate(async () => {
      const link = document.querySelector('link[rel~="icon"]');
      const response = await fetch(link?.href ?? '/favicon.ico');
      return {
        href: link?.getAttribute('href'),
        status: response.status,
        type: response.headers.get('content-type'),
        bytes: [...new Uint8Array(await response.arrayBuffer()).slice(0, 4)],
      };
    });
    assert.deepEqual(icon, { href: '/favicon.ico', status: 200, type: icon.type, bytes: [0, 0, 1, 0] });
    assert.match(icon.type, /^image\//);
    const direct = await fetch(`${base}/favicon.ico`);
    assert.equal(direct.status, 200);
    // The only failed request on a fresh page is the restore attempt without a cookie.
    assert.deepEqual(missing, ['401 /auth/refresh']);
    await context.close();
  });
});
