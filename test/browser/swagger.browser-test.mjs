// `npm run test:browser`: Swagger UI at /docs in real Chromium, driven through its own buttons
// (Try it out, Execute, Authorize) as a person would, opened at two different origins of the same
// server. The issuer is a third origin on purpose: Swagger UI must send its requests to the origin
// it was opened from, whatever JWT_ISSUER says. Screenshots land in test-results/.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startAppOnFile } from '../crash/app-process.mjs';
import { launchChromium } from '../utils/chromium.mjs';

const SHOTS = 'test-results';
const ISSUER = 'https://auth.example.com';

let app;
let browser;
let dataDir;

/** A screenshot of one part of the page (the whole Swagger UI page is ~10k pixels tall). */
async function shot(locator, name) {
  await locator.screenshot({ path: join(SHOTS, `${name}.png`) });
}

/** The operation's block in Swagger UI, by tag and operationId (Swagger UI's own element ids). */
const operation = (page, tag, operationId) => page.locator(`#operations-${tag}-${operationId}`);

/** Expands the operation and presses "Try it out". */
async function tryItOut(op) {
  if (!(await op.locator('.opblock-body').count())) await op.locator('.opblock-summary-control').click();
  await op.locator('button.try-out__btn').click();
}

/** Presses Execute and returns what Swagger UI shows under "Server response": status and body. */
async function execute(op) {
  await op.locator('button.execute').click();
  const row = op.locator('.live-responses-table tbody tr.response').first();
  await row.waitFor({ timeout: 10_000 });
  const status = (await row.locator('.response-col_status').innerText()).trim();
  const body = await row
    .locator('.response-col_description pre.microlight')
    .first()
    .innerText({ timeout: 1000 })
    .catch(() => '');
  return { status, body, details: (await row.innerText()).replace(/\s+/g, ' ') };
}

function assert2xx(result, label) {
  assert.match(result.status, /^2\d\d$/, `${label}: Swagger UI shows "${result.details}"`);
}

describe('Swagger UI in Chromium', () => {
  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    dataDir = mkdtempSync(join(tmpdir(), 'nta-swagger-'));
    app = await startAppOnFile({
      dir: dataDir,
      dbFile: join(dataDir, 'auth.sqlite'),
      env: {
        NODE_ENV: 'development',
        JWT_ISSUER: ISSUER,
        ARGON2_MEMORY_KIB: '1024',
        ARGON2_ITERATIONS: '1',
        LOG_LEVEL: 'warn',
      },
    });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await app?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  for (const host of ['127.0.0.1', 'localhost']) {
    it(`at http://${host}:PORT/docs: register, log in, authorize, /auth/me and /auth/refresh all answer 2xx`, async () => {
      const origin = app.baseUrl.replace('127.0.0.1', host);
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      const problems = [];
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(message.text());
      });
      const apiRequests = [];
      page.on('request', (request) => {
        const url = new URL(request.url());
        if (url.pathname.startsWith('/auth/')) apiRequests.push(url.origin);
      });
      const name = `swagger-${host.replace(/\W/g, '-')}`;
      const username = `swagger_${host.replace(/\W/g, '')}_${Date.now().toString(36)}`;
      const password = 'correct horse battery';
      const credentials = JSON.stringify({ username, password });

      await page.goto(`${origin}/docs`);
      await page.locator('.opblock').first().waitFor();

      const register = operation(page, 'auth', 'AuthController_register');
      await tryItOut(register);
      await register.locator('textarea.body-param__text').fill(credentials);
      const registered = await execute(register);
      await shot(register, `${name}-1-register`);
      assert2xx(registered, 'POST /auth/register');
      assert.equal(registered.status, '201');

      const login = operation(page, 'auth', 'AuthController_login');
      await tryItOut(login);
      await login.locator('textarea.body-param__text').fill(credentials);
      const loggedIn = await execute(login);
      await shot(login, `${name}-2-login`);
      assert2xx(loggedIn, 'POST /auth/login');
      const accessToken = JSON.parse(loggedIn.body).access_token;
      assert.match(accessToken, /^[\w-]+\.[\w-]+\.[\w-]+$/);
      const cookieAfterLogin = (await context.cookies(`${origin}/auth/refresh`)).find(
        (c) => c.name === 'refresh_token',
      );
      assert.ok(cookieAfterLogin, 'the login set the refresh cookie in the browser');
      assert.equal(cookieAfterLogin.httpOnly, true);

      await page.locator('.auth-wrapper button.authorize').click();
      const bearer = page
        .locator('.modal-ux .auth-container')
        .filter({ has: page.locator('h4 code', { hasText: /^bearer$/ }) });
      await bearer.locator('#auth-bearer-value').fill(accessToken);
      await bearer.locator('button.authorize').click();
      await bearer.getByText('Authorized', { exact: true }).waitFor();
      await shot(page.locator('.modal-ux-inner'), `${name}-3-authorized`);
      await bearer.locator('button.btn-done').click();

      const me = operation(page, 'auth', 'AuthController_me');
      await tryItOut(me);
      const meResult = await execute(me);
      await shot(me, `${name}-4-me`);
      assert2xx(meResult, 'GET /auth/me');
      assert.equal(JSON.parse(meResult.body).username, username);

      const refresh = operation(page, 'auth', 'AuthController_refresh');
      await tryItOut(refresh);
      const refreshed = await execute(refresh);
      await shot(refresh, `${name}-5-refresh`);
      assert2xx(refreshed, 'POST /auth/refresh');
      assert.match(JSON.parse(refreshed.body).access_token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
      const cookieAfterRefresh = (await context.cookies(`${origin}/auth/refresh`)).find(
        (c) => c.name === 'refresh_token',
      );
      assert.notEqual(cookieAfterRefresh?.value, cookieAfterLogin.value, 'the refresh replaced the cookie');

      assert.deepEqual(
        [...new Set(apiRequests)],
        [origin],
        'every request went to the origin Swagger UI was opened from',
      );
      assert.deepEqual(problems, [], 'no console errors (CSP violations, failed fetches)');
      await context.close();
    });
  }
});
