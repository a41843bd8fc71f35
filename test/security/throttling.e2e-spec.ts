import { afterEach, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { createTestApp, type TestApp } from '../utils/create-test-app.js';
import { DEFAULT_PASSWORD, refreshCookie, register, sleep, uniqueUsername } from '../utils/http.js';

const THROTTLE_ENV = { LOGIN_MAX_FAILURES_PER_USER: '3', LOGIN_MAX_FAILURES_PER_IP: '5' };
const WRONG = 'wrong password!';

type Route = 'login' | 'token';

/** One login attempt through either front door; both share the throttle. */
function attempt(t: TestApp, route: Route, username: string, password: string) {
  return route === 'login'
    ? request(t.server).post('/auth/login').send({ username, password })
    : request(t.server).post('/auth/token').type('form').send({ grant_type: 'password', username, password });
}

function expectRejectedCredentials(response: request.Response, route: Route): void {
  if (route === 'login') expect(response.status).toBe(401);
  else expect({ status: response.status, error: response.body.error }).toEqual({ status: 400, error: 'invalid_grant' });
}

function expectSuccess(response: request.Response, route: Route): void {
  expect(response.status).toBe(200);
  expect(response.body.access_token).toEqual(expect.any(String));
  if (route === 'login') expect(refreshCookie(response)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  else expect(response.body.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
}

/**
 * 429 with a numeric Retry-After no longer than the window, an error body, and no tokens. The
 * cookie routes use the usual `{statusCode, error, message}`; the OAuth token endpoint may answer
 * in OAuth's `{error, error_description}` shape (`slow_down`) instead.
 */
function expectThrottled(response: request.Response, route: Route, windowSeconds = 900): void {
  expect(response.status).toBe(429);
  const retryAfter = response.headers['retry-after'] as string | undefined;
  expect(retryAfter).toMatch(/^\d+$/);
  expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
  expect(Number(retryAfter)).toBeLessThanOrEqual(windowSeconds);
  if (route === 'login' || response.body.statusCode !== undefined) {
    expect(response.body).toEqual({ statusCode: 429, error: 'Too Many Requests', message: expect.any(String) });
  } else {
    expect(response.body).toEqual({ error: expect.any(String), error_description: expect.any(String) });
  }
  expect(response.body).not.toHaveProperty('access_token');
  expect(response.body).not.toHaveProperty('refresh_token');
  expect(refreshCookie(response) ?? '').toBe('');
}

describe('login throttling (e2e)', () => {
  let t: TestApp | undefined;

  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  describe.each<Route>(['login', 'token'])('through %s', (route) => {
    it('blocks a username after 3 failures, even with the right password, in any letter case', async () => {
      t = await createTestApp(THROTTLE_ENV);
      const { username } = await register(t.server, uniqueUsername('victim'));

      for (let i = 0; i < 3; i++) expectRejectedCredentials(await attempt(t, route, username, WRONG), route);

      expectThrottled(await attempt(t, route, username, DEFAULT_PASSWORD), route);
      expectThrottled(await attempt(t, route, username.toUpperCase(), DEFAULT_PASSWORD), route);
      expectThrottled(await attempt(t, route, username, WRONG), route);
    });

    it('keeps other usernames from the same IP usable until the IP limit of 5, then blocks every username', async () => {
      t = await createTestApp(THROTTLE_ENV);
      const victim = await register(t.server, uniqueUsername('victim'));
      const bystander = await register(t.server, uniqueUsername('bystander'));
      const late = await register(t.server, uniqueUsername('late'));

      // 3 failures: the victim is blocked, the IP has 3 of 5.
      for (let i = 0; i < 3; i++) await attempt(t, route, victim.username, WRONG);
      expectThrottled(await attempt(t, route, victim.username, DEFAULT_PASSWORD), route);
      expectSuccess(await attempt(t, route, bystander.username, DEFAULT_PASSWORD), route);

      // 4th failure, on an unknown username: still under both limits for the bystander.
      expectRejectedCredentials(await attempt(t, route, uniqueUsername('ghost'), WRONG), route);
      expectSuccess(await attempt(t, route, bystander.username, DEFAULT_PASSWORD), route);

      // 5th failure: the IP is blocked now, for every username and the right password too.
      expectRejectedCredentials(await attempt(t, route, bystander.username, WRONG), route);
      expectThrottled(await attempt(t, route, bystander.username, DEFAULT_PASSWORD), route);
      expectThrottled(await attempt(t, route, late.username, DEFAULT_PASSWORD), route);
      expectThrottled(await attempt(t, route, uniqueUsername('fresh'), 'anything at all'), route);
    });
  });

  it('does not let a burst of parallel guesses past the limit: at most 3 passwords are checked', async () => {
    t = await createTestApp(THROTTLE_ENV);
    const { username } = await register(t.server, uniqueUsername('burst'));
    const responses = await Promise.all(Array.from({ length: 30 }, () => attempt(t!, 'login', username, WRONG)));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(3);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(27);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    // The right password inside the window is refused too.
    expectThrottled(await attempt(t, 'login', username, DEFAULT_PASSWORD), 'login');
  });

  it('throttles guesses of the current password at POST /auth/password, and audits them', async () => {
    t = await createTestApp(THROTTLE_ENV);
    const { username } = await register(t.server, uniqueUsername('pwguess'));
    const login = await attempt(t, 'login', username, DEFAULT_PASSWORD);
    const bearer = `Bearer ${login.body.access_token as string}`;
    const change = (currentPassword: string) =>
      request(t!.server)
        .post('/auth/password')
        .set('Authorization', bearer)
        .send({ currentPassword, newPassword: 'a new password 1' });

    for (let i = 0; i < 3; i++) expect((await change(`${WRONG}${i}`)).status).toBe(403);
    const throttled = await change(DEFAULT_PASSWORD);
    expect(throttled.status).toBe(429);
    expect(throttled.headers['retry-after']).toMatch(/^\d+$/);

    const audit = await request(t.server).get('/auth/audit?limit=100').set('Authorization', bearer).expect(200);
    const types = (audit.body.items as Array<{ type: string }>).map((e) => e.type);
    expect(types.filter((type) => type === 'password_change_failure')).toHaveLength(3);
    expect(types).toContain('login_throttled');
    expect(types).not.toContain('password_changed');
  });

  it('counts failures through /auth/login and /auth/token together', async () => {
    t = await createTestApp(THROTTLE_ENV);
    const { username } = await register(t.server, uniqueUsername('mixed'));
    await attempt(t, 'login', username, WRONG);
    await attempt(t, 'token', username, WRONG);
    await attempt(t, 'login', username, WRONG);
    expectThrottled(await attempt(t, 'token', username, DEFAULT_PASSWORD), 'token');
    expectThrottled(await attempt(t, 'login', username, DEFAULT_PASSWORD), 'login');
  });

  it('does not count successful logins, per username or per IP', async () => {
    t = await createTestApp(THROTTLE_ENV);
    const users = [];
    for (let i = 0; i < 6; i++) users.push(await register(t.server, uniqueUsername('ok')));

    // 12 successes for one username and 6 more spread over users: far past both limits if they counted.
    for (let i = 0; i < 6; i++) {
      expectSuccess(await attempt(t, 'login', users[0].username, DEFAULT_PASSWORD), 'login');
      expectSuccess(await attempt(t, 'token', users[0].username, DEFAULT_PASSWORD), 'token');
    }
    for (const user of users) expectSuccess(await attempt(t, 'login', user.username, DEFAULT_PASSWORD), 'login');

    // Two real failures stay under the per-user limit of 3.
    await attempt(t, 'login', users[0].username, WRONG);
    await attempt(t, 'login', users[0].username, WRONG);
    expectSuccess(await attempt(t, 'login', users[0].username, DEFAULT_PASSWORD), 'login');
  });

  it('lifts the block once LOGIN_THROTTLE_WINDOW has passed', async () => {
    t = await createTestApp({ ...THROTTLE_ENV, LOGIN_THROTTLE_WINDOW: '2s' });
    const { username } = await register(t.server, uniqueUsername('patient'));
    for (let i = 0; i < 3; i++) await attempt(t, 'login', username, WRONG);
    expectThrottled(await attempt(t, 'login', username, DEFAULT_PASSWORD), 'login', 2);

    await sleep(2200);
    expectSuccess(await attempt(t, 'login', username, DEFAULT_PASSWORD), 'login');
    expectSuccess(await attempt(t, 'token', username, DEFAULT_PASSWORD), 'token');
  });
});
