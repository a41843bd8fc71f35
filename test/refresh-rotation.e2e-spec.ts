import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { createTestApp, type TestApp } from './utils/create-test-app.js';
import { sessionRow } from './utils/db.js';
import {
  decodeJwt,
  expectErrorBody,
  expectRefreshCookieCleared,
  login,
  logout,
  me,
  parseRefreshSetCookie,
  refresh,
  refreshCookie,
  refreshCookieMaxAge,
  sleep,
} from './utils/http.js';

const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** A 401 from /auth/refresh: error shape, cleared cookie, not cached. */
function expectRefreshRejected(response: request.Response) {
  expectErrorBody(response, 401, 'Unauthorized');
  expectRefreshCookieCleared(response);
  expect(response.headers['cache-control']).toBe('no-store');
  expect(refreshCookie(response)).toBe('');
}

/** A 200 from /auth/refresh: token body, a new cookie; returns the new refresh and access tokens. */
function expectRefreshed(response: request.Response) {
  expect(response.status).toBe(200);
  expect(response.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 3600 });
  expect(response.headers['cache-control']).toBe('no-store');
  const cookie = parseRefreshSetCookie(response)!;
  expect(cookie.value).toMatch(TOKEN);
  expect(cookie.attributes).toMatchObject({ path: '/auth', httponly: true, samesite: 'Strict' });
  expect(response.text).not.toContain(cookie.value);
  return { refreshToken: cookie.value, accessToken: response.body.access_token as string };
}

describe('POST /auth/refresh and /auth/logout (e2e, default 10s grace)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('trades the cookie for a new token pair in the same session; the new access token works', async () => {
    const { username, accessToken, refreshToken } = await login(t.server);
    const next = expectRefreshed(await refresh(t.server, refreshToken));
    expect(next.refreshToken).not.toBe(refreshToken);
    expect(next.accessToken).not.toBe(accessToken);

    const before = decodeJwt(accessToken).payload;
    const after = decodeJwt(next.accessToken).payload;
    expect(after.sub).toBe(before.sub);
    expect(after.sid).toBe(before.sid);
    expect(after.jti).not.toBe(before.jti);

    const whoami = await me(t.server, next.accessToken).expect(200);
    expect(whoami.body).toEqual({ id: before.sub, username, roles: [] });
  });

  it('keeps rotating: each token of a chain works once, in order', async () => {
    let { refreshToken } = await login(t.server);
    const seen = new Set([refreshToken]);
    for (let i = 0; i < 5; i += 1) {
      const next = expectRefreshed(await refresh(t.server, refreshToken));
      expect(seen.has(next.refreshToken)).toBe(false);
      seen.add(next.refreshToken);
      refreshToken = next.refreshToken;
      await me(t.server, next.accessToken).expect(200);
    }
    expect(seen.size).toBe(6);
  });

  it('sets a fresh idle timeout on the new cookie', async () => {
    const { refreshToken } = await login(t.server);
    const response = await refresh(t.server, refreshToken);
    expectRefreshed(response);
    expect(refreshCookieMaxAge(response)).toBeGreaterThanOrEqual(24 * 3600 - 1);
    expect(refreshCookieMaxAge(response)).toBeLessThanOrEqual(24 * 3600);
  });

  it('answers a missing cookie with 401 and a clearing Set-Cookie', async () => {
    expectRefreshRejected(await request(t.server).post('/auth/refresh'));
  });

  it.each([
    ['an unknown well-formed token', 'A'.repeat(43)],
    ['garbage', 'not-a-token'],
    ['an empty value', ''],
    ['a token one character too long', `${'B'.repeat(43)}C`],
    ['a token with invalid characters', `${'C'.repeat(42)}+`],
  ])('answers %s with 401 and a clearing Set-Cookie', async (_case, token) => {
    expectRefreshRejected(await refresh(t.server, token));
  });

  it('ignores a refresh token sent in the JSON body or as a Bearer header (cookie only)', async () => {
    const { refreshToken, accessToken } = await login(t.server);
    expectRefreshRejected(await request(t.server).post('/auth/refresh').send({ refresh_token: refreshToken }));
    expectRefreshRejected(await request(t.server).post('/auth/refresh').set('Authorization', `Bearer ${accessToken}`));
    // The token was not used up by those attempts.
    expectRefreshed(await refresh(t.server, refreshToken));
  });

  describe('grace window: idempotent retry of a just-rotated token', () => {
    it('returns the same child for the re-presented parent, and the child keeps working', async () => {
      const { refreshToken: parent } = await login(t.server);
      const child = expectRefreshed(await refresh(t.server, parent));

      const retry = expectRefreshed(await refresh(t.server, parent));
      expect(retry.refreshToken).toBe(child.refreshToken);
      // A fresh access token each time, for the same session.
      expect(retry.accessToken).not.toBe(child.accessToken);
      expect(decodeJwt(retry.accessToken).payload.sid).toBe(decodeJwt(child.accessToken).payload.sid);
      await me(t.server, retry.accessToken).expect(200);

      const retryAgain = expectRefreshed(await refresh(t.server, parent));
      expect(retryAgain.refreshToken).toBe(child.refreshToken);

      // The child was not used up by the retries.
      const grandchild = expectRefreshed(await refresh(t.server, child.refreshToken));
      expect(grandchild.refreshToken).not.toBe(child.refreshToken);
      expect(grandchild.refreshToken).not.toBe(parent);
      await me(t.server, grandchild.accessToken).expect(200);
    });

    it('treats the grandparent as reuse once the child has been rotated, revoking the whole session', async () => {
      const { refreshToken: a } = await login(t.server);
      const b = expectRefreshed(await refresh(t.server, a)).refreshToken;
      const c = expectRefreshed(await refresh(t.server, b)).refreshToken;

      expectRefreshRejected(await refresh(t.server, a));
      // Every token of the session is dead now, the newest included.
      expectRefreshRejected(await refresh(t.server, c));
      expectRefreshRejected(await refresh(t.server, b));
    });

    it('treats the parent of a rotated child as reuse too (b after c exists)', async () => {
      const { refreshToken: a, accessToken } = await login(t.server);
      const b = expectRefreshed(await refresh(t.server, a)).refreshToken;
      const c = expectRefreshed(await refresh(t.server, b)).refreshToken;
      // b is within its grace window, but its child c has already been used (rotated into d).
      const d = expectRefreshed(await refresh(t.server, c)).refreshToken;

      expectRefreshRejected(await refresh(t.server, b));
      expectRefreshRejected(await refresh(t.server, d));
      const sid = decodeJwt(accessToken).payload.sid as string;
      expect((await sessionRow(t, sid))?.revoked_at).toEqual(expect.any(Number));
    });

    it('answers 20 parallel refreshes of one token with 200 and the same child for all', async () => {
      const { refreshToken } = await login(t.server);
      const responses = await Promise.all(Array.from({ length: 20 }, () => refresh(t.server, refreshToken)));

      expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
      const children = new Set(responses.map((r) => refreshCookie(r)));
      expect(children.size).toBe(1);
      const [child] = [...children];
      expect(child).toMatch(TOKEN);
      expect(child).not.toBe(refreshToken);

      // The session is intact: the child rotates normally.
      const next = expectRefreshed(await refresh(t.server, child!));
      await me(t.server, next.accessToken).expect(200);
    });
  });

  describe('logout', () => {
    it('answers 204, clears the cookie, and the refresh token stops working', async () => {
      const { refreshToken } = await login(t.server);
      const response = await logout(t.server, refreshToken);
      expect(response.status).toBe(204);
      expect(response.text).toBe('');
      expectRefreshCookieCleared(response);

      expectRefreshRejected(await refresh(t.server, refreshToken));
    });

    it('revokes the whole session: a rotated-away token and the current one both stop working', async () => {
      const { refreshToken: first } = await login(t.server);
      const second = expectRefreshed(await refresh(t.server, first)).refreshToken;
      // Logging out with the older token (still in the grace window) ends the session too.
      await logout(t.server, first).expect(204);
      expectRefreshRejected(await refresh(t.server, second));
      expectRefreshRejected(await refresh(t.server, first));
    });

    it('leaves other sessions of the same user alone', async () => {
      const one = await login(t.server);
      const two = await login(t.server, one.username);
      await logout(t.server, one.refreshToken).expect(204);
      expectRefreshRejected(await refresh(t.server, one.refreshToken));
      expectRefreshed(await refresh(t.server, two.refreshToken));
    });

    it('is idempotent: again with the same cookie, with no cookie, or with garbage, 204 each time', async () => {
      const { refreshToken } = await login(t.server);
      await logout(t.server, refreshToken).expect(204);

      const again = await logout(t.server, refreshToken);
      expect(again.status).toBe(204);
      expectRefreshCookieCleared(again);

      const noCookie = await logout(t.server);
      expect(noCookie.status).toBe(204);
      expectRefreshCookieCleared(noCookie);

      await logout(t.server, 'garbage').expect(204);
      await logout(t.server, 'D'.repeat(43)).expect(204);
    });

    it('does not need an access token', async () => {
      const { refreshToken } = await login(t.server);
      await request(t.server).post('/auth/logout').set('Cookie', `refresh_token=${refreshToken}`).expect(204);
    });

    it('ends the access tokens of the logged-out session at once (invalid_token); other sessions keep theirs', async () => {
      // This was "still valid until exp" while access tokens were checked by signature and exp
      // only; session-bound access tokens (README, "Logout / revocation leaves access tokens
      // working") changed it: the JWT guard checks the session, and a local logout is seen at once.
      const { accessToken, refreshToken, username } = await login(t.server);
      const other = await login(t.server, username);
      await me(t.server, accessToken).expect(200);

      await logout(t.server, refreshToken).expect(204);

      const response = await me(t.server, accessToken);
      expectErrorBody(response, 401, 'Unauthorized');
      expect(response.headers['www-authenticate']).toContain('error="invalid_token"');
      expect((await me(t.server, other.accessToken).expect(200)).body.username).toBe(username);
    });
  });
});

describe('refresh token reuse detection with REFRESH_REUSE_GRACE=0 (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ REFRESH_REUSE_GRACE: '0' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers a re-presented rotated token with 401 and revokes the session: the child dies too', async () => {
    const { refreshToken: parent, accessToken } = await login(t.server);
    const child = expectRefreshed(await refresh(t.server, parent)).refreshToken;

    expectRefreshRejected(await refresh(t.server, parent));
    expectRefreshRejected(await refresh(t.server, child));

    const sid = decodeJwt(accessToken).payload.sid as string;
    const session = await sessionRow(t, sid);
    expect(session?.revoked_at).toEqual(expect.any(Number));
    expect(session?.revoked_reason).toBe('refresh_token_reuse');
  });

  it('does not touch other sessions of the same user', async () => {
    const victim = await login(t.server);
    const other = await login(t.server, victim.username);
    await refresh(t.server, victim.refreshToken).expect(200);
    expectRefreshRejected(await refresh(t.server, victim.refreshToken));
    expectRefreshed(await refresh(t.server, other.refreshToken));
  });

  it('answers 20 parallel refreshes of one token with exactly one 200 and 401 for the rest, never 5xx', async () => {
    const { refreshToken } = await login(t.server);
    const responses = await Promise.all(Array.from({ length: 20 }, () => refresh(t.server, refreshToken)));

    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 401)).toHaveLength(19);
    for (const response of responses.filter((r) => r.status === 401)) expectRefreshRejected(response);

    // The losers presented a used token: that is reuse, so the winner's child is revoked too.
    const winner = refreshCookie(responses.find((r) => r.status === 200)!)!;
    expect(winner).toMatch(TOKEN);
    expectRefreshRejected(await refresh(t.server, winner));
  });
});

describe('grace window REFRESH_REUSE_GRACE=2s (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ REFRESH_REUSE_GRACE: '2s' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('replays the child inside the window, and after it treats the parent as reuse and revokes the session', async () => {
    const { refreshToken: parent } = await login(t.server);
    const child = expectRefreshed(await refresh(t.server, parent)).refreshToken;
    expect(refreshCookie(await refresh(t.server, parent).expect(200))).toBe(child);

    await sleep(2500);

    expectRefreshRejected(await refresh(t.server, parent));
    expectRefreshRejected(await refresh(t.server, child));
  }, 15_000);
});
