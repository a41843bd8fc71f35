import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { createTestApp, type TestApp } from '../utils/create-test-app.js';
import {
  bearer,
  expectAccessTokenDies,
  expectAccessTokenWorks,
  loginAs,
  newUser,
  refreshWith,
  type Login,
} from './security-helpers.js';

type HasHeaders = { headers: Record<string, unknown> };

/** Every refresh_token Set-Cookie of a response, as `{value, path, cleared}`. */
function refreshSetCookies(response: HasHeaders) {
  const raw = response.headers['set-cookie'] as string[] | string | undefined;
  const headers = (Array.isArray(raw) ? raw : raw ? [raw] : []).filter((h) => h.startsWith('refresh_token='));
  return headers.map((header) => {
    const [pair, ...attributes] = header.split(';').map((part) => part.trim());
    const attribute = (name: string) =>
      attributes.find((a) => a.toLowerCase().startsWith(`${name}=`))?.slice(name.length + 1);
    const expires = attribute('expires');
    return {
      value: pair.slice('refresh_token='.length),
      path: attribute('path'),
      cleared: attribute('max-age') === '0' || (expires !== undefined && new Date(expires).getTime() <= Date.now()),
    };
  });
}

const expectClearedOnAuthAndRoot = (response: HasHeaders) => {
  const cookies = refreshSetCookies(response);
  expect(cookies.map((c) => c.path).sort()).toEqual(['/', '/auth']);
  expect(cookies.every((c) => c.value === '' && c.cleared)).toBe(true);
};

const events = async (server: TestApp['server'], login: Login) => {
  const response = await bearer(server, 'get', '/auth/audit?limit=100', login.accessToken).expect(200);
  return response.body.items as Array<{ type: string; sessionId: string | null; detail: Record<string, unknown> | null }>;
};

/**
 * Someone who can set a cookie for our host (a sibling subdomain, plain HTTP) adds a second
 * refresh_token, with a longer path so browsers send it first. Whichever comes first must not win.
 */
describe('several refresh_token cookies in one request (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('POST /auth/refresh: 401, no token, the cookie cleared on Path=/auth and Path=/, audited for the victim', async () => {
    const victim = await newUser(t.server, 'victim');
    const attacker = await newUser(t.server, 'attacker');
    // The planted cookie first, as a browser sends the one with the longer path.
    const response = await request(t.server)
      .post('/auth/refresh')
      .set('Cookie', `refresh_token=${attacker.refreshToken}; refresh_token=${victim.refreshToken}`);
    expect(response.status).toBe(401);
    expect(response.body).not.toHaveProperty('access_token');
    expect(response.body.message).toMatch(/more than one refresh_token cookie/i);
    expectClearedOnAuthAndRoot(response);

    // Nothing was rotated: each token, alone, still refreshes its own session.
    const victimAlone = await refreshWith(t.server, victim.refreshToken).expect(200);
    const victimAgain = await loginAs(t.server, victim.username, victim.password);
    await refreshWith(t.server, attacker.refreshToken).expect(200);
    expect(victimAlone.body.access_token).toBeDefined();

    const victimEvents = await events(t.server, victimAgain);
    const conflict = victimEvents.find((e) => e.type === 'refresh_cookie_conflict');
    expect(conflict).toMatchObject({ sessionId: victim.sid, detail: { route: 'refresh', cookies: 2, knownSessions: 2 } });
  });

  it('also when the cookies come in two Cookie headers, or the same token twice', async () => {
    const user = await newUser(t.server, 'twoheaders');
    const twoHeaders = await request(t.server)
      .post('/auth/refresh')
      .set('Cookie', [`refresh_token=${user.refreshToken}`, 'refresh_token=planted']);
    expect(twoHeaders.status).toBe(401);
    expectClearedOnAuthAndRoot(twoHeaders);

    const sameTwice = await request(t.server)
      .post('/auth/refresh')
      .set('Cookie', `refresh_token=${user.refreshToken}; refresh_token=${user.refreshToken}`);
    expect(sameTwice.status).toBe(401);
    expect(sameTwice.body).not.toHaveProperty('access_token');

    // Junk only: refused the same way, never a 5xx.
    const junk = await request(t.server).post('/auth/refresh').set('Cookie', 'refresh_token=a; refresh_token=b; refresh_token=');
    expect(junk.status).toBe(401);
    expectClearedOnAuthAndRoot(junk);
  });

  it('other cookies whose names merely contain refresh_token do not count', async () => {
    const user = await newUser(t.server, 'lookalike');
    const response = await request(t.server)
      .post('/auth/refresh')
      .set('Cookie', `xrefresh_token=1; refresh_token_old=2; theme=refresh_token; refresh_token=${user.refreshToken}`);
    expect(response.status).toBe(200);
    expect(response.body.access_token).toBeDefined();
  });

  it('POST /auth/logout revokes the session of every presented token that is ours, and clears both paths', async () => {
    const victim = await newUser(t.server, 'victim');
    const attacker = await newUser(t.server, 'attacker');
    const response = await request(t.server)
      .post('/auth/logout')
      .set('Cookie', `refresh_token=${attacker.refreshToken}; refresh_token=junk; refresh_token=${victim.refreshToken}`);
    expect(response.status).toBe(204);
    expectClearedOnAuthAndRoot(response);

    // The victim is logged out for real: refresh token and access token are dead.
    await refreshWith(t.server, victim.refreshToken).expect(401);
    await expectAccessTokenDies(t.server, victim.accessToken, 'victim access token');
    await refreshWith(t.server, attacker.refreshToken).expect(401);

    const victimAgain = await loginAs(t.server, victim.username, victim.password);
    await expectAccessTokenWorks(t.server, victimAgain.accessToken);
    const victimEvents = await events(t.server, victimAgain);
    expect(victimEvents.find((e) => e.type === 'logout')).toMatchObject({ sessionId: victim.sid });
    expect(victimEvents.find((e) => e.type === 'refresh_cookie_conflict')).toMatchObject({
      sessionId: victim.sid,
      detail: { route: 'logout', cookies: 3, knownSessions: 2 },
    });
  });

  it('a single cookie keeps today’s behaviour: logout clears Path=/auth only', async () => {
    const user = await newUser(t.server, 'single');
    const response = await request(t.server).post('/auth/logout').set('Cookie', `refresh_token=${user.refreshToken}`);
    expect(response.status).toBe(204);
    expect(refreshSetCookies(response).map((c) => c.path)).toEqual(['/auth']);
    await refreshWith(t.server, user.refreshToken).expect(401);
  });
});
