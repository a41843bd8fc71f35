import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { PasswordHasherService } from '../../src/users/password-hasher.service.js';
import { createTestApp, type TestApp } from '../utils/create-test-app.js';
import { expectErrorBody, refreshCookie, uniqueUsername } from '../utils/http.js';
import {
  bearer,
  expectAccessTokenDies,
  expectAccessTokenWorks,
  expectNoneOf,
  expectRefreshTokenDead,
  loginAs,
  newUser,
  refreshWith,
  revokeAtEndpoint,
  tokenMaterialIn,
  type Login,
} from './security-helpers.js';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

interface SessionItem {
  id: string;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
  userAgent: string | null;
  ip: string | null;
  current: boolean;
}

describe('session management and revocation reaching access tokens (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  const listSessions = async (accessToken: string): Promise<SessionItem[]> => {
    const response = await bearer(t.server, 'get', '/auth/sessions', accessToken);
    expect(response.status).toBe(200);
    expect(Array.isArray(response.body)).toBe(true);
    return response.body as SessionItem[];
  };

  /** A user logged in on `devices` devices, each with its own User-Agent. */
  const userWithDevices = async (devices: number): Promise<Login[]> => {
    const first = await newUser(t.server, 'sess', 'device-0');
    const rest: Login[] = [];
    for (let i = 1; i < devices; i++) rest.push(await loginAs(t.server, first.username, first.password, `device-${i}`));
    return [first, ...rest];
  };

  describe('GET /auth/sessions', () => {
    it('lists exactly the caller’s sessions with the documented fields, marking only the presented one current', async () => {
      const devices = await userWithDevices(3);
      const other = await newUser(t.server, 'other');

      for (const device of devices) {
        const sessions = await listSessions(device.accessToken);
        expect(sessions.map((s) => s.id).sort()).toEqual(devices.map((d) => d.sid).sort());
        for (const s of sessions) {
          expect(Object.keys(s).sort()).toEqual([
            'createdAt',
            'current',
            'expiresAt',
            'id',
            'ip',
            'lastUsedAt',
            'userAgent',
          ]);
          expect(s).toEqual({
            id: expect.stringMatching(/^[0-9a-f-]{36}$/),
            createdAt: expect.stringMatching(ISO),
            lastUsedAt: expect.stringMatching(ISO),
            expiresAt: expect.stringMatching(ISO),
            userAgent: expect.stringMatching(/^device-\d$/),
            ip: expect.stringMatching(/127\.0\.0\.1$/),
            current: expect.any(Boolean),
          });
        }
        expect(sessions.filter((s) => s.current).map((s) => s.id)).toEqual([device.sid]);
        expect(sessions.find((s) => s.id === device.sid)!.userAgent).toBe(`device-${devices.indexOf(device)}`);
        expect(sessions.map((s) => s.id)).not.toContain(other.sid);
      }

      const theirs = await listSessions(other.accessToken);
      expect(theirs.map((s) => s.id)).toEqual([other.sid]);
      expect(theirs[0].current).toBe(true);
    });

    it('never returns token material', async () => {
      const devices = await userWithDevices(2);
      // A rotated session too: its chain now holds two token hashes.
      const rotated = await refreshWith(t.server, devices[1].refreshToken).expect(200);
      const response = await bearer(t.server, 'get', '/auth/sessions', devices[0].accessToken).expect(200);
      expect(tokenMaterialIn(response.body)).toEqual([]);
      expectNoneOf(response.text, [
        ...devices.flatMap((d) => [d.refreshToken, d.accessToken, d.password]),
        refreshCookie(rotated)!,
        rotated.body.access_token as string,
      ]);
    });

    it('drops sessions that were logged out', async () => {
      const [a, b] = await userWithDevices(2);
      await request(t.server).post('/auth/logout').set('Cookie', `refresh_token=${b.refreshToken}`).expect(204);
      expect((await listSessions(a.accessToken)).map((s) => s.id)).toEqual([a.sid]);
    });

    it('requires a bearer token', async () => {
      expectErrorBody(await request(t.server).get('/auth/sessions'), 401, 'Unauthorized');
    });
  });

  describe('DELETE /auth/sessions/:id', () => {
    it('revokes one of the caller’s sessions: 204, unlisted, its refresh and access tokens dead; the caller’s session lives on', async () => {
      const [me, phone] = await userWithDevices(2);
      // Used once first, so the guard's caches hold it as verified and live when the revocation lands.
      await expectAccessTokenWorks(t.server, phone.accessToken, 'phone before revocation');

      const response = await bearer(t.server, 'delete', `/auth/sessions/${phone.sid}`, me.accessToken);
      expect(response.status).toBe(204);
      expect(response.text).toBe('');

      expect((await listSessions(me.accessToken)).map((s) => s.id)).toEqual([me.sid]);
      await expectAccessTokenDies(t.server, phone.accessToken, 'revoked session access token');
      await expectRefreshTokenDead(t.server, phone.refreshToken, 'revoked session refresh token');

      await expectAccessTokenWorks(t.server, me.accessToken, 'caller access token');
      await refreshWith(t.server, me.refreshToken).expect(200);
    });

    it('lets a session revoke itself', async () => {
      const [me] = await userWithDevices(1);
      await bearer(t.server, 'delete', `/auth/sessions/${me.sid}`, me.accessToken).expect(204);
      await expectAccessTokenDies(t.server, me.accessToken);
      await expectRefreshTokenDead(t.server, me.refreshToken);
    });

    it('answers 404 for another user’s session, which keeps working', async () => {
      const attacker = await newUser(t.server, 'attacker');
      const victim = await newUser(t.server, 'victim');

      const response = await bearer(t.server, 'delete', `/auth/sessions/${victim.sid}`, attacker.accessToken);
      expectErrorBody(response, 404, 'Not Found');

      await expectAccessTokenWorks(t.server, victim.accessToken, 'victim access token');
      expect((await listSessions(victim.accessToken)).map((s) => s.id)).toEqual([victim.sid]);
      await refreshWith(t.server, victim.refreshToken).expect(200);
    });

    it.each([
      ['an unknown uuid', randomUUID()],
      ['garbage', 'not-a-session'],
      ['SQL-looking text', encodeURIComponent("' OR '1'='1")],
      ['a percent-encoded wildcard', '%25'],
      ['a long id (just under Fastify’s 100-character parameter limit)', 'a'.repeat(99)],
    ])('answers 404 for %s', async (_label, id) => {
      const [me, other] = await userWithDevices(2);
      expectErrorBody(await bearer(t.server, 'delete', `/auth/sessions/${id}`, me.accessToken), 404, 'Not Found');
      // Nothing else was revoked by it.
      expect((await listSessions(me.accessToken)).map((s) => s.id).sort()).toEqual([me.sid, other.sid].sort());
    });

    it('answers 404 for a session that is already revoked', async () => {
      const [me, phone] = await userWithDevices(2);
      await bearer(t.server, 'delete', `/auth/sessions/${phone.sid}`, me.accessToken).expect(204);
      expectErrorBody(
        await bearer(t.server, 'delete', `/auth/sessions/${phone.sid}`, me.accessToken),
        404,
        'Not Found',
      );
    });
  });

  describe('POST /auth/logout-all', () => {
    it('answers 204 and kills the refresh and access tokens of every session, the caller’s included', async () => {
      const devices = await userWithDevices(3);
      // One of them rotated once: both its generations must die.
      const rotated = await refreshWith(t.server, devices[2].refreshToken).expect(200);
      const rotatedAccess = rotated.body.access_token as string;
      const rotatedRefresh = refreshCookie(rotated)!;
      const bystander = await newUser(t.server, 'bystander');
      for (const token of [...devices.map((d) => d.accessToken), rotatedAccess])
        await expectAccessTokenWorks(t.server, token, 'before logout-all');

      const response = await bearer(t.server, 'post', '/auth/logout-all', devices[0].accessToken);
      expect(response.status).toBe(204);

      for (const [i, d] of devices.entries()) {
        await expectAccessTokenDies(t.server, d.accessToken, `device ${i} access token`);
      }
      await expectAccessTokenDies(t.server, rotatedAccess, 'rotated access token');
      for (const [i, d] of devices.entries()) {
        await expectRefreshTokenDead(t.server, d.refreshToken, `device ${i} refresh token`);
      }
      await expectRefreshTokenDead(t.server, rotatedRefresh, 'rotated refresh token');

      // Other users are untouched.
      await expectAccessTokenWorks(t.server, bystander.accessToken, 'bystander');
      await refreshWith(t.server, bystander.refreshToken).expect(200);
    });

    it('requires a bearer token (no cookie-only logout-all)', async () => {
      const [me] = await userWithDevices(1);
      const response = await request(t.server)
        .post('/auth/logout-all')
        .set('Cookie', `refresh_token=${me.refreshToken}`);
      expectErrorBody(response, 401, 'Unauthorized');
      await expectAccessTokenWorks(t.server, me.accessToken);
    });
  });

  describe('POST /auth/password', () => {
    const NEW_PASSWORD = 'a brand new passphrase';

    it('answers 204, revokes every other session, keeps the current one, and swaps which password logs in', async () => {
      const [current, laptop, phone] = await userWithDevices(3);
      for (const d of [current, laptop, phone])
        await expectAccessTokenWorks(t.server, d.accessToken, 'before the change');

      const response = await bearer(t.server, 'post', '/auth/password', current.accessToken).send({
        currentPassword: current.password,
        newPassword: NEW_PASSWORD,
      });
      expect(response.status).toBe(204);

      for (const other of [laptop, phone]) {
        await expectAccessTokenDies(t.server, other.accessToken, `other session ${other.sid}`);
        await expectRefreshTokenDead(t.server, other.refreshToken, `other session ${other.sid}`);
      }

      await expectAccessTokenWorks(t.server, current.accessToken, 'current session');
      expect((await listSessions(current.accessToken)).map((s) => s.id)).toEqual([current.sid]);
      const refreshed = await refreshWith(t.server, current.refreshToken).expect(200);
      await expectAccessTokenWorks(t.server, refreshed.body.access_token as string, 'current session, refreshed');

      const oldLogin = await request(t.server)
        .post('/auth/login')
        .send({ username: current.username, password: current.password });
      expectErrorBody(oldLogin, 401, 'Unauthorized');
      expect(oldLogin.body).not.toHaveProperty('access_token');
      await loginAs(t.server, current.username, NEW_PASSWORD);
    });

    it.each([
      ['POST /auth/login', 'login'],
      ['POST /auth/token (password grant)', 'token'],
    ] as const)(
      'refuses a login (%s) that checked the old password while the change committed',
      async (_label, route) => {
        const [current] = await userWithDevices(1);
        // Hold the first check of the old password (the racing login's) until the change is done.
        const hasher = t.app.get(PasswordHasherService);
        const verify = hasher.verify.bind(hasher);
        let release!: () => void;
        const changed = new Promise<void>((resolve) => (release = resolve));
        let held = false;
        let checked!: () => void;
        const loginChecked = new Promise<void>((resolve) => (checked = resolve));
        hasher.verify = async (...args: Parameters<typeof verify>) => {
          const ok = await verify(...args);
          if (!held && args[1] === current.password) {
            held = true;
            checked();
            await changed;
          }
          return ok;
        };
        try {
          const racing =
            route === 'login'
              ? request(t.server).post('/auth/login').send({ username: current.username, password: current.password })
              : request(t.server)
                  .post('/auth/token')
                  .type('form')
                  .send({ grant_type: 'password', username: current.username, password: current.password });
          const answer = racing.then((response) => response);
          await loginChecked;
          const change = await bearer(t.server, 'post', '/auth/password', current.accessToken).send({
            currentPassword: current.password,
            newPassword: NEW_PASSWORD,
          });
          expect(change.status).toBe(204);
          release();
          const response = await answer;
          if (route === 'login') expectErrorBody(response, 401, 'Unauthorized');
          else
            expect({ status: response.status, error: response.body.error }).toEqual({
              status: 400,
              error: 'invalid_grant',
            });
          expect(response.headers['set-cookie']).toBeUndefined();
          expect(response.text).not.toMatch(/access_token|refresh_token/);
          // Only the session that changed the password is left.
          expect((await listSessions(current.accessToken)).map((s) => s.id)).toEqual([current.sid]);
        } finally {
          hasher.verify = verify;
          release();
        }
        await loginAs(t.server, current.username, NEW_PASSWORD);
      },
    );

    it('answers 403 for a wrong current password and changes nothing', async () => {
      const [current, other] = await userWithDevices(2);
      const response = await bearer(t.server, 'post', '/auth/password', current.accessToken).send({
        currentPassword: 'not the password at all',
        newPassword: NEW_PASSWORD,
      });
      expectErrorBody(response, 403, 'Forbidden');

      await expectAccessTokenWorks(t.server, other.accessToken, 'other session');
      await loginAs(t.server, current.username, current.password);
      const withNew = await request(t.server)
        .post('/auth/login')
        .send({ username: current.username, password: NEW_PASSWORD });
      expect(withNew.status).toBe(401);
    });

    it.each([
      ['a new password under 8 characters', { newPassword: 'short' }],
      ['a missing new password', { newPassword: undefined }],
      ['a non-string new password', { newPassword: 12345678 }],
      ['an extra property', { extra: 'x' }],
    ])('answers 400 for %s', async (_label, override) => {
      const [current, other] = await userWithDevices(2);
      const body = { currentPassword: current.password, newPassword: NEW_PASSWORD, ...override };
      expectErrorBody(
        await bearer(t.server, 'post', '/auth/password', current.accessToken).send(body),
        400,
        'Bad Request',
      );
      await expectAccessTokenWorks(t.server, other.accessToken, 'other session');
      await loginAs(t.server, current.username, current.password);
    });

    it('requires a bearer token', async () => {
      const response = await request(t.server)
        .post('/auth/password')
        .send({ currentPassword: 'whatever1', newPassword: NEW_PASSWORD });
      expectErrorBody(response, 401, 'Unauthorized');
    });
  });

  describe('access tokens die with their session', () => {
    it('POST /auth/logout (cookie) kills the session’s access token with error="invalid_token"', async () => {
      const [me, other] = await userWithDevices(2);
      await expectAccessTokenWorks(t.server, me.accessToken, 'before logout');
      await request(t.server).post('/auth/logout').set('Cookie', `refresh_token=${me.refreshToken}`).expect(204);
      await expectAccessTokenDies(t.server, me.accessToken);
      await expectAccessTokenWorks(t.server, other.accessToken, 'the user’s other session');
    });

    it('POST /auth/logout with an already rotated refresh token still kills the current access token', async () => {
      const [me] = await userWithDevices(1);
      const refreshed = await refreshWith(t.server, me.refreshToken).expect(200);
      await request(t.server).post('/auth/logout').set('Cookie', `refresh_token=${me.refreshToken}`).expect(204);
      await expectAccessTokenDies(t.server, refreshed.body.access_token as string);
      await expectRefreshTokenDead(t.server, refreshCookie(refreshed)!);
    });

    it('POST /auth/revoke with the refresh token kills the access token', async () => {
      const [me] = await userWithDevices(1);
      await expectAccessTokenWorks(t.server, me.accessToken);
      await revokeAtEndpoint(t.server, me.refreshToken).expect(200);
      await expectAccessTokenDies(t.server, me.accessToken);
      await expectRefreshTokenDead(t.server, me.refreshToken);
    });

    it('POST /auth/revoke with the access token kills the session’s refresh token', async () => {
      const [me] = await userWithDevices(1);
      await revokeAtEndpoint(t.server, me.accessToken).expect(200);
      await expectAccessTokenDies(t.server, me.accessToken);
      await expectRefreshTokenDead(t.server, me.refreshToken);
    });

    it('refresh-token reuse detection kills the session’s access tokens', async () => {
      const [me] = await userWithDevices(1);
      // Two rotations: the first token is then outside any grace window (its child was rotated too).
      const first = await refreshWith(t.server, me.refreshToken).expect(200);
      const second = await refreshWith(t.server, refreshCookie(first)!).expect(200);
      const latestAccess = second.body.access_token as string;
      await expectAccessTokenWorks(t.server, latestAccess);

      expectErrorBody(await refreshWith(t.server, me.refreshToken), 401, 'Unauthorized');

      await expectAccessTokenDies(t.server, me.accessToken, 'login access token');
      await expectAccessTokenDies(t.server, first.body.access_token as string, 'first refresh access token');
      await expectAccessTokenDies(t.server, latestAccess, 'latest access token');
      await expectRefreshTokenDead(t.server, refreshCookie(second)!, 'latest refresh token');
    });

    it('revoking another user’s session is impossible through /auth/revoke with a forged-looking token', async () => {
      const victim = await newUser(t.server, 'victim');
      // Well-formed but unknown refresh token, and a username in place of a token.
      await revokeAtEndpoint(t.server, 'A'.repeat(43)).expect(200);
      await revokeAtEndpoint(t.server, uniqueUsername()).expect(200);
      await expectAccessTokenWorks(t.server, victim.accessToken);
    });
  });
});
