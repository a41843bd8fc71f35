// `npm run test:browser` (or, after `npm run build`, `node --test test/browser/admin.browser-test.mjs`):
// the demo page's roles line and users table for admins, in real Chromium against the built app.
// The admin is made the way an operator makes the first one: `npm run users -- grant <name> admin`,
// run as its own process against the running app's database. Screenshots land in test-results/.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startAppOnFile } from '../crash/app-process.mjs';
import { launchChromium } from '../utils/chromium.mjs';

// Long enough that nothing here is signed out by expiry: what ends a session is the admin.
const ACCESS_TTL_SECONDS = 60;
const SHOTS = 'test-results';
const PASSWORD = 'correct horse battery';

let app;
let base;
let browser;
let dataDir;
let env;

async function startApp() {
  dataDir = mkdtempSync(join(tmpdir(), 'nta-admin-browser-'));
  const dbFile = join(dataDir, 'auth.sqlite');
  // What the app runs with is also what the users CLI needs beside it.
  env = {
    PATH: process.env.PATH,
    NODE_ENV: 'test',
    DATABASE_URL: `sqlite:${dbFile}`,
    JWT_ISSUER: 'http://127.0.0.1',
    ACCESS_TOKEN_TTL: `${ACCESS_TTL_SECONDS}s`,
    ARGON2_MEMORY_KIB: '1024',
    ARGON2_ITERATIONS: '1',
    LOG_LEVEL: 'warn',
  };
  app = await startAppOnFile({ dir: dataDir, dbFile, env });
  base = app.baseUrl;
}

/** `npm run users -- <args>` beside the running app: its own process, the same database. */
function usersCli(...args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['dist/cli/users.js', ...args], { env });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (status) => {
      if (status === 0) resolve(output);
      else reject(new Error(`users ${args.join(' ')} exited with ${status}: ${output}`));
    });
  });
}

async function register(username) {
  const response = await fetch(`${base}/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
  assert.equal(response.status, 201);
}

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `admin-${name}.png`), fullPage: true });
}

async function assertText(page, selector, expected) {
  await page
    .waitForFunction(([sel, text]) => document.querySelector(sel)?.textContent?.includes(text), [selector, expected], {
      timeout: 10_000,
    })
    .catch(async () => {
      const actual = await page
        .locator(selector)
        .first()
        .textContent()
        .catch(() => null);
      assert.fail(`${selector} should contain ${JSON.stringify(expected)}, has ${JSON.stringify(actual)}`);
    });
}

async function loginThroughForm(page, username) {
  await page.goto(`${base}/`);
  await page.locator('#signed-out').waitFor({ state: 'visible' });
  await page.fill('#username', username);
  await page.fill('#password', PASSWORD);
  await page.click('#login-button');
  await page.locator('#signed-in').waitFor({ state: 'visible' });
  await assertText(page, '#current-user', username);
}

/**
 * Clicks "Call /auth/me" until the page lands on the login form: the server refuses the user's
 * older access tokens within a second of an admin's change, so the first click may still pass.
 */
async function untilSignedOut(page) {
  for (let i = 0; i < 10; i++) {
    await page.click('#me-button');
    const out = await page
      .locator('#signed-out')
      .waitFor({ state: 'visible', timeout: 1_000 })
      .then(() => true)
      .catch(() => false);
    if (out) return;
  }
  assert.fail('the page stayed signed in');
}

/** The users-table row of `username` (cells: username, roles, status, active sessions, actions). */
const userRow = (page, username) => page.locator(`#users tbody tr[data-username="${username}"]`);

async function assertRow(page, username, { roles, status, sessions }) {
  const row = userRow(page, username);
  await row.waitFor({ timeout: 10_000 });
  const expected = [roles, status, String(sessions)];
  await page
    .waitForFunction(
      ([name, cells]) => {
        const tr = document.querySelector(`#users tbody tr[data-username="${name}"]`);
        const texts = [...(tr?.querySelectorAll('td') ?? [])].slice(1, 4).map((td) => td.textContent);
        return JSON.stringify(texts) === JSON.stringify(cells);
      },
      [username, expected],
      { timeout: 10_000 },
    )
    .catch(async () => {
      const texts = await row.locator('td').allTextContents();
      assert.fail(`row of ${username} should show ${JSON.stringify(expected)}, shows ${JSON.stringify(texts)}`);
    });
}

describe('demo page: roles and the admin users table in Chromium', () => {
  const suffix = Date.now().toString(36);
  const adminName = `admin_${suffix}`;
  const userName = `member_${suffix}`;

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await startApp();
    await register(adminName);
    await register(userName);
    await usersCli('grant', adminName, 'admin');
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await app?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('1. a user without roles sees "none" and no users table; a role granted shows after a refresh', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await loginThroughForm(page, userName);
    await assertText(page, '#current-roles', 'none');
    assert.equal(await page.locator('#admin').isVisible(), false, 'no users table without the admin role');

    // Roles live in the access token: the next refresh carries the new one.
    await usersCli('grant', userName, 'support');
    await page.click('#refresh-button');
    await assertText(page, '#current-roles', 'support');
    assert.equal(await page.locator('#admin').isVisible(), false, 'support is not admin');
    await shot(page, '1-member-roles');
    // Log out, so the member's session count in the admin's table starts at what the next test makes.
    await page.click('#logout-button');
    await page.locator('#signed-out').waitFor({ state: 'visible' });
    await context.close();
  });

  it('2. an admin sees the table, disables a user, and that user is signed out on their next request', async () => {
    const member = await browser.newContext();
    const memberPage = await member.newPage();
    await loginThroughForm(memberPage, userName);
    await assertText(memberPage, '#current-roles', 'support');

    const admin = await browser.newContext();
    const page = await admin.newPage();
    await loginThroughForm(page, adminName);
    await assertText(page, '#current-roles', 'admin');
    await page.locator('#admin').waitFor({ state: 'visible' });
    await assertRow(page, adminName, { roles: 'admin', status: 'Active', sessions: 1 });
    await assertRow(page, userName, { roles: 'support', status: 'Active', sessions: 1 });
    await assertText(page, `#users tbody tr[data-username="${adminName}"] td`, '(you)');
    await shot(page, '2-admin-table');

    await userRow(page, userName).locator('button[data-action="disable"]').click();
    await assertRow(page, userName, { roles: 'support', status: 'Disabled', sessions: 0 });
    await assertText(page, '#admin-message', 'disabled');
    assert.equal(await page.locator('#admin-message').evaluate((el) => el.classList.contains('error')), false);
    await shot(page, '2-user-disabled');

    // The member's page: its next request is refused, the refresh too, and the login form says why.
    await untilSignedOut(memberPage);
    await assertText(memberPage, '#form-message', 'session has ended');
    await memberPage.fill('#username', userName);
    await memberPage.fill('#password', PASSWORD);
    await memberPage.click('#login-button');
    await assertText(memberPage, '#form-message', 'This account is disabled');
    await shot(memberPage, '2-member-refused');

    // Enabled again, the member can log in.
    await userRow(page, userName).locator('button[data-action="enable"]').click();
    await assertRow(page, userName, { roles: 'support', status: 'Active', sessions: 0 });
    await memberPage.click('#login-button');
    await memberPage.locator('#signed-in').waitFor({ state: 'visible', timeout: 10_000 });
    await memberPage.click('#logout-button');
    await memberPage.locator('#signed-out').waitFor({ state: 'visible' });
    await member.close();
    await admin.close();
  });

  it('3. an admin cannot disable themself: the 409 is shown, nothing changes', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await loginThroughForm(page, adminName);
    await page.locator('#admin').waitFor({ state: 'visible' });
    const own = userRow(page, adminName);
    await own.waitFor();

    await own.locator('button[data-action="disable"]').click();
    await assertText(page, '#admin-message', '409');
    assert.equal(await page.locator('#admin-message').evaluate((el) => el.classList.contains('error')), true);
    assert.equal(await own.locator('button[data-action="disable"]').isEnabled(), true, 'the row works again');
    await assertText(page, '#current-roles', 'admin');
    await shot(page, '3-self-disable-refused');
    // Still signed in, still an admin.
    await page.click('#me-button');
    await assertText(page, '#me-result', '"roles":["admin"]');
    await context.close();
  });

  it('4. "Revoke sessions" signs the user out everywhere, without disabling them', async () => {
    const member = await browser.newContext();
    const memberPage = await member.newPage();
    await loginThroughForm(memberPage, userName);

    const admin = await browser.newContext();
    const page = await admin.newPage();
    await loginThroughForm(page, adminName);
    await assertRow(page, userName, { roles: 'support', status: 'Active', sessions: 1 });

    await userRow(page, userName).locator('button[data-action="revoke-sessions"]').click();
    await assertRow(page, userName, { roles: 'support', status: 'Active', sessions: 0 });
    await assertText(page, '#admin-message', `Every session of ${userName} is revoked`);

    await untilSignedOut(memberPage);
    await assertText(memberPage, '#form-message', 'session has ended');
    // Not disabled: logging in again works.
    await memberPage.fill('#username', userName);
    await memberPage.fill('#password', PASSWORD);
    await memberPage.click('#login-button');
    await memberPage.locator('#signed-in').waitFor({ state: 'visible', timeout: 10_000 });
    await shot(page, '4-sessions-revoked');
    await member.close();
    await admin.close();
  });

  it('5. the search box filters by username prefix; signing out leaves nothing of the table', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await loginThroughForm(page, adminName);
    await userRow(page, userName).waitFor();

    await page.fill('#user-query', 'MEMBER_');
    await page.click('#user-search button[type="submit"]');
    await page.waitForFunction(
      (name) => {
        const rows = [...document.querySelectorAll('#users tbody tr')].map((tr) => tr.dataset.username);
        return rows.length === 1 && rows[0] === name;
      },
      userName,
      { timeout: 10_000 },
    );

    await page.click('#logout-button');
    await page.locator('#signed-out').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#admin').isVisible(), false);
    assert.equal(await page.locator('#users tbody tr').count(), 0);
    assert.equal(await page.locator('#current-roles').textContent(), '…');
    await context.close();
  });
});
