import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import type request from 'supertest';
import { createTestApp, type TestApp } from './utils/create-test-app.js';
import { sessionRow } from './utils/db.js';
import {
  decodeJwt,
  expectErrorBody,
  expectRefreshCookieCleared,
  login,
  me,
  refresh,
  refreshCookie,
  refreshCookieMaxAge,
  sleep,
} from './utils/http.js';

// Waits are a little over the configured lifetimes, kept short; the timeouts are generous.
const SLOW = 20_000;

/** Sleeps until just after the next whole second. */
const sleepToNextSecond = () => sleep(1000 - (Date.now() % 1000) + 30);

function expectRefreshRejected(response: request.Response) {
  expectErrorBody(response, 401, 'Unauthorized');
  expectRefreshCookieCleared(response);
}

/**
 * Each test builds its own app with the lifetimes it needs (one live app at a time, see
 * createTestApp), and closes it afterwards.
 */
describe('token and session lifetimes (e2e)', () => {
  let t: TestApp | undefined;

  async function app(env: Record<string, string>): Promise<TestApp> {
    t = await createTestApp(env);
    return t;
  }
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });
  afterAll(async () => {
    await t?.close();
  });

  it(
    'ACCESS_TOKEN_TTL=1s: the access token expires (invalid_token), refresh still works and its token works',
    async () => {
      const { server } = await app({ ACCESS_TOKEN_TTL: '1s' });
      // JWT times are whole seconds: issue just after a second starts, so "valid now" and
      // "expired after the next boundary" do not depend on where in the second the test runs.
      await sleepToNextSecond();
      const { accessToken, refreshToken, response } = await login(server);
      expect(response.body.expires_in).toBe(1);
      const { payload } = decodeJwt(accessToken);
      expect((payload.exp as number) - (payload.iat as number)).toBe(1);
      await me(server, accessToken).expect(200);

      await sleepToNextSecond();

      const expired = await me(server, accessToken);
      expectErrorBody(expired, 401, 'Unauthorized');
      expect(expired.headers['www-authenticate']).toContain('error="invalid_token"');

      const refreshed = await refresh(server, refreshToken).expect(200);
      expect(refreshed.body.expires_in).toBe(1);
      await me(server, refreshed.body.access_token).expect(200);
    },
    SLOW,
  );

  it(
    'REFRESH_TOKEN_TTL=1s: an idle refresh token expires (401), which is not a reuse revocation',
    async () => {
      const { server } = await app({ REFRESH_TOKEN_TTL: '1s' });
      const { refreshToken, accessToken, response } = await login(server);
      expect(refreshCookieMaxAge(response)).toBeLessThanOrEqual(1);

      // Refresh tokens expire to the millisecond (issue + 1000 ms).
      await sleep(1300);

      expectRefreshRejected(await refresh(server, refreshToken));
      // Still rejected on a second try (nothing was rotated), and the session was not revoked:
      // expiry is not evidence of theft.
      expectRefreshRejected(await refresh(server, refreshToken));
      const session = await sessionRow(t!, decodeJwt(accessToken).payload.sid as string);
      expect(session).toMatchObject({ revoked_at: null, revoked_reason: null });
    },
    SLOW,
  );

  it(
    'REFRESH_TOKEN_TTL=2s: each refresh renews the idle timeout (cookie Max-Age resets)',
    async () => {
      const { server } = await app({ REFRESH_TOKEN_TTL: '2s' });
      const { refreshToken: first, response } = await login(server);
      expect(refreshCookieMaxAge(response)).toBeGreaterThanOrEqual(1);
      expect(refreshCookieMaxAge(response)).toBeLessThanOrEqual(2);

      await sleep(1200);
      const second = await refresh(server, first).expect(200);
      // A full idle period again, not what was left of the first one (< 1s).
      expect(refreshCookieMaxAge(second)).toBeGreaterThanOrEqual(1);
      expect(refreshCookieMaxAge(second)).toBeLessThanOrEqual(2);

      await sleep(1200);
      // 2.4s after login: the first token's idle timeout has passed, the second's has not.
      const third = await refresh(server, refreshCookie(second)!).expect(200);
      expect(refreshCookieMaxAge(third)).toBeGreaterThanOrEqual(1);
      await me(server, third.body.access_token).expect(200);
    },
    SLOW,
  );

  it(
    'SESSION_MAX_AGE=3s caps the session although every refresh token is fresh; Max-Age never exceeds what is left',
    async () => {
      const { server } = await app({ SESSION_MAX_AGE: '3s', REFRESH_TOKEN_TTL: '2s' });
      const loginAt = Date.now();
      const { refreshToken, accessToken, response } = await login(server);
      const sessionEndsAt = (await sessionRow(t!, decodeJwt(accessToken).payload.sid as string))!.expires_at;
      expect(sessionEndsAt - loginAt).toBeGreaterThanOrEqual(3000);
      expect(sessionEndsAt - loginAt).toBeLessThan(3000 + 1000);

      expect(refreshCookieMaxAge(response)).toBeLessThanOrEqual(2);

      let token = refreshToken;
      const sessionStartedAt = sessionEndsAt - 3000;
      for (const at of [1000, 2000]) {
        // Refresh ~1s and ~2s into the session, measured from its start so latency does not add up.
        await sleep(Math.max(0, sessionStartedAt + at - Date.now()));
        const sentAt = Date.now();
        const refreshed = await refresh(server, token).expect(200);
        const maxAge = refreshCookieMaxAge(refreshed);
        // The server answered after sentAt, so what was left of the session then is an upper bound,
        // except that Max-Age is never 0 for a token that is still valid (0 would delete it).
        expect(maxAge).toBeLessThanOrEqual(Math.max(1, Math.floor((sessionEndsAt - sentAt) / 1000)));
        expect(maxAge).toBeLessThanOrEqual(2);
        token = refreshCookie(refreshed)!;
      }

      // The last token was issued ~2s in with a 2s idle timeout, so only the session cap ends it.
      const waitUntilPastCap = sessionEndsAt - Date.now() + 200;
      if (waitUntilPastCap > 0) await sleep(waitUntilPastCap);
      expectRefreshRejected(await refresh(server, token));
    },
    SLOW,
  );

  it("caps access tokens at the session's absolute end: none outlives SESSION_MAX_AGE, for login and refresh alike", async () => {
    const { server } = await app({ ACCESS_TOKEN_TTL: '1h', REFRESH_TOKEN_TTL: '30s', SESSION_MAX_AGE: '60s' });
    const { accessToken, refreshToken, response } = await login(server);
    const sessionEndsAt = (await sessionRow(t!, decodeJwt(accessToken).payload.sid as string))!.expires_at;
    for (const [label, token, expiresIn] of [
      ['login', accessToken, response.body.expires_in],
      ...(await refresh(server, refreshToken)
        .expect(200)
        .then((r) => [['refresh', r.body.access_token, r.body.expires_in]])),
    ] as Array<[string, string, number]>) {
      const { exp, iat } = decodeJwt(token).payload as { exp: number; iat: number };
      expect({ label, withinSession: exp * 1000 <= sessionEndsAt, expiresIn }).toEqual({
        label,
        withinSession: true,
        expiresIn: exp - iat,
      });
      expect(expiresIn).toBeGreaterThan(55);
      expect(expiresIn).toBeLessThanOrEqual(60);
    }
  });

  it('parses duration formats: ACCESS_TOKEN_TTL=15m is expires_in 900, REFRESH_TOKEN_TTL=1h is a 3600s cookie', async () => {
    const { server, config } = await app({ ACCESS_TOKEN_TTL: '15m', REFRESH_TOKEN_TTL: '1h', SESSION_MAX_AGE: '1d' });
    expect(config.auth).toMatchObject({ accessTokenTtl: 900, refreshTokenTtl: 3600, sessionMaxAge: 86400 });

    const { accessToken, refreshToken, response } = await login(server);
    expect(response.body.expires_in).toBe(900);
    const { payload } = decodeJwt(accessToken);
    expect((payload.exp as number) - (payload.iat as number)).toBe(900);
    expect([3599, 3600]).toContain(refreshCookieMaxAge(response));

    const refreshed = await refresh(server, refreshToken).expect(200);
    expect(refreshed.body.expires_in).toBe(900);
  });

  it('parses plain seconds: ACCESS_TOKEN_TTL=90 is expires_in 90', async () => {
    const { server } = await app({ ACCESS_TOKEN_TTL: '90' });
    const { response } = await login(server);
    expect(response.body.expires_in).toBe(90);
  });
});
