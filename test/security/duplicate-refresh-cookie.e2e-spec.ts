import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { AuditService } from '../../src/audit/audit.service.js';
import { MAX_REFRESH_COOKIES } from '../../src/auth/refresh-cookie.js';
import { Session } from '../../src/sessions/session.entity.js';
import { SessionsService } from '../../src/sessions/sessions.service.js';
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

type AuditItem = { type: string; sessionId: string | null; detail: Record<string, unknown> | null };

const events = async (server: TestApp['server'], login: Login) => {
  const response = await bearer(server, 'get', '/auth/audit?limit=100', login.accessToken).expect(200);
  return response.body.items as AuditItem[];
};

/** The refresh_cookie_conflict rows of one session, as its user reads them. */
const conflictsOf = async (server: TestApp['server'], reader: Login, sessionId: string) =>
  (await events(server, reader)).filter((e) => e.type === 'refresh_cookie_conflict' && e.sessionId === sessionId);

const cookieHeader = (...tokens: string[]) => tokens.map((token) => `refresh_token=${token}`).join('; ');

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

  afterEach(() => {
    jest.restoreAllMocks();
  });

  const revokedReason = async (sessionId: string) =>
    (await t.app.get(DataSource).getRepository(Session).findOneByOrFail({ id: sessionId })).revokedReason;

  it('POST /auth/refresh: 401, no token, cookies cleared on both paths, and both sessions revoked', async () => {
    const victim = await newUser(t.server, 'victim');
    const attacker = await newUser(t.server, 'attacker');
    // The planted cookie first, as a browser sends the one with the longer path.
    const response = await request(t.server)
      .post('/auth/refresh')
      .set('Cookie', cookieHeader(attacker.refreshToken, victim.refreshToken));
    expect(response.status).toBe(401);
    expect(response.body).not.toHaveProperty('access_token');
    expect(response.body.message).toMatch(/more than one refresh_token cookie/i);
    expectClearedOnAuthAndRoot(response);

    // The planted session and the victim's (whose token the planter may know) are both over:
    // their refresh tokens are refused, and so are their access tokens.
    await refreshWith(t.server, victim.refreshToken).expect(401);
    await refreshWith(t.server, attacker.refreshToken).expect(401);
    await expectAccessTokenDies(t.server, victim.accessToken, 'victim access token');
    await expectAccessTokenDies(t.server, attacker.accessToken, 'attacker access token');
    expect(await revokedReason(victim.sid)).toBe('refresh_cookie_conflict');
    expect(await revokedReason(attacker.sid)).toBe('refresh_cookie_conflict');

    // Each affected session is audited for its own user.
    const victimAgain = await loginAs(t.server, victim.username, victim.password);
    expect(await conflictsOf(t.server, victimAgain, victim.sid)).toEqual([
      expect.objectContaining({
        detail: { route: 'refresh', cookies: 2, liveSessions: 2, sessionRevoked: true, count: 1 },
      }),
    ]);
    const attackerAgain = await loginAs(t.server, attacker.username, attacker.password);
    expect(await conflictsOf(t.server, attackerAgain, attacker.sid)).toHaveLength(1);
  });

  it('an old (rotated) token of a live session counts: that session is revoked too', async () => {
    const victim = await newUser(t.server, 'rotated');
    const rotated = await refreshWith(t.server, victim.refreshToken).expect(200);
    const current = refreshSetCookies(rotated)[0].value;
    const planted = await newUser(t.server, 'planter');
    await request(t.server)
      .post('/auth/refresh')
      .set('Cookie', cookieHeader(planted.refreshToken, victim.refreshToken))
      .expect(401);
    await refreshWith(t.server, current).expect(401);
    await expectAccessTokenDies(t.server, rotated.body.access_token as string);
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
    const junk = await request(t.server)
      .post('/auth/refresh')
      .set('Cookie', 'refresh_token=a; refresh_token=b; refresh_token=');
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

  it('POST /auth/logout with two cookies revokes both sessions, clears both paths, and audits each session', async () => {
    // Two sessions of one user (say, a stale login planted back from a sibling subdomain), so
    // that one audit row per user would show as a missing row here.
    const victim = await newUser(t.server, 'victim');
    const second = await loginAs(t.server, victim.username, victim.password);
    const response = await request(t.server)
      .post('/auth/logout')
      .set('Cookie', cookieHeader(second.refreshToken, victim.refreshToken));
    expect(response.status).toBe(204);
    expectClearedOnAuthAndRoot(response);

    await refreshWith(t.server, victim.refreshToken).expect(401);
    await refreshWith(t.server, second.refreshToken).expect(401);
    await expectAccessTokenDies(t.server, victim.accessToken, 'first access token');
    await expectAccessTokenDies(t.server, second.accessToken, 'second access token');
    // Logout keeps its own reason.
    expect(await revokedReason(victim.sid)).toBe('logout');
    expect(await revokedReason(second.sid)).toBe('logout');

    const victimAgain = await loginAs(t.server, victim.username, victim.password);
    await expectAccessTokenWorks(t.server, victimAgain.accessToken);
    const all = await events(t.server, victimAgain);
    for (const sid of [victim.sid, second.sid]) {
      expect(all.filter((e) => e.type === 'logout' && e.sessionId === sid)).toHaveLength(1);
      expect(all.filter((e) => e.type === 'refresh_cookie_conflict' && e.sessionId === sid)).toEqual([
        expect.objectContaining({
          detail: { route: 'logout', cookies: 2, liveSessions: 2, sessionRevoked: true, count: 1 },
        }),
      ]);
    }
  });

  it('POST /auth/logout: junk and tokens of another user beside ours are all handled in one go', async () => {
    const victim = await newUser(t.server, 'victim');
    const attacker = await newUser(t.server, 'attacker');
    const response = await request(t.server)
      .post('/auth/logout')
      .set('Cookie', cookieHeader(attacker.refreshToken, 'junk', victim.refreshToken));
    expect(response.status).toBe(204);
    expectClearedOnAuthAndRoot(response);
    await refreshWith(t.server, victim.refreshToken).expect(401);
    await refreshWith(t.server, attacker.refreshToken).expect(401);
  });

  it(`more than ${MAX_REFRESH_COOKIES} cookies: 401 on refresh and logout, cookies cleared, nothing looked up or written`, async () => {
    const victim = await newUser(t.server, 'many');
    const sessions = t.app.get(SessionsService);
    const audit = t.app.get(AuditService);
    const spies = {
      liveSessionsOf: jest.spyOn(sessions, 'liveSessionsOf'),
      revoke: jest.spyOn(sessions, 'revoke'),
      revokeByToken: jest.spyOn(sessions, 'revokeByToken'),
      record: jest.spyOn(audit, 'record'),
      recordRepeatableForSession: jest.spyOn(audit, 'recordRepeatableForSession'),
    };
    const calls = () => Object.fromEntries(Object.entries(spies).map(([name, spy]) => [name, spy.mock.calls.length]));
    const rows = async () => Number((await t.app.get(DataSource).query('SELECT COUNT(*) AS n FROM audit_events'))[0].n);
    const before = await rows();

    const tooMany = cookieHeader(
      victim.refreshToken,
      ...Array.from({ length: MAX_REFRESH_COOKIES }, (_, i) => `planted${i}`),
    );
    for (const path of ['/auth/refresh', '/auth/logout']) {
      const response = await request(t.server).post(path).set('Cookie', tooMany);
      expect({ path, status: response.status }).toEqual({ path, status: 401 });
      expect(response.body).not.toHaveProperty('access_token');
      expect(response.body.message).toMatch(new RegExp(`more than ${MAX_REFRESH_COOKIES} refresh_token cookies`, 'i'));
      expectClearedOnAuthAndRoot(response);
    }
    // Hundreds are refused just the same, never a 5xx.
    const hundreds = cookieHeader(victim.refreshToken, ...Array.from({ length: 300 }, (_, i) => `p${i}`));
    expect((await request(t.server).post('/auth/refresh').set('Cookie', hundreds)).status).toBe(401);

    expect(calls()).toEqual({
      liveSessionsOf: 0,
      revoke: 0,
      revokeByToken: 0,
      record: 0,
      recordRepeatableForSession: 0,
    });
    expect(await rows()).toBe(before);
    // Not looked at, so not revoked: the token alone still works.
    await refreshWith(t.server, victim.refreshToken).expect(200);
  });

  it(`exactly ${MAX_REFRESH_COOKIES} cookies are still looked at`, async () => {
    const victim = await newUser(t.server, 'eight');
    const cookies = cookieHeader(
      victim.refreshToken,
      ...Array.from({ length: MAX_REFRESH_COOKIES - 1 }, (_, i) => `planted${i}`),
    );
    await request(t.server).post('/auth/refresh').set('Cookie', cookies).expect(401);
    await refreshWith(t.server, victim.refreshToken).expect(401);
  });

  it('repeated conflicts leave one audit row per session and hour, counting the repeats', async () => {
    const victim = await newUser(t.server, 'repeat');
    const attacker = await newUser(t.server, 'repeater');
    const conflict = () =>
      request(t.server).post('/auth/refresh').set('Cookie', cookieHeader(attacker.refreshToken, victim.refreshToken));

    // At once, as a looping browser or a script would: all may see the sessions live.
    const burst = await Promise.all(Array.from({ length: 10 }, conflict));
    expect(burst.map((r) => r.status)).toEqual(Array(10).fill(401));
    // And again after the sessions are gone.
    for (let i = 0; i < 5; i++) await conflict().expect(401);

    const victimAgain = await loginAs(t.server, victim.username, victim.password);
    const rows = await conflictsOf(t.server, victimAgain, victim.sid);
    expect(rows).toHaveLength(1);
    const count = rows[0].detail?.count as number;
    expect(count).toBeGreaterThanOrEqual(1);
    expect(count).toBeLessThanOrEqual(10);
    const attackerAgain = await loginAs(t.server, attacker.username, attacker.password);
    expect(await conflictsOf(t.server, attackerAgain, attacker.sid)).toHaveLength(1);
  });

  it('a single cookie keeps today’s behaviour: logout clears Path=/auth only', async () => {
    const user = await newUser(t.server, 'single');
    const response = await request(t.server).post('/auth/logout').set('Cookie', `refresh_token=${user.refreshToken}`);
    expect(response.status).toBe(204);
    expect(refreshSetCookies(response).map((c) => c.path)).toEqual(['/auth']);
    await refreshWith(t.server, user.refreshToken).expect(401);
  });
});
