import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { createTestApp, type TestApp } from './utils/create-test-app.js';
import { login, refresh, refreshCookie, setCookieHeader } from './utils/http.js';

describe('auth flow (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('logs in, calls /auth/me with the access token, refreshes, and logs out', async () => {
    const { username, accessToken, refreshToken, response } = await login(t.server);
    expect(response.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 3600 });
    expect(response.headers['cache-control']).toBe('no-store');
    expect(JSON.stringify(response.body)).not.toContain(refreshToken);
    expect(setCookieHeader(response)).toMatch(
      /^refresh_token=[A-Za-z0-9_-]{43}; Max-Age=\d+; Path=\/auth; HttpOnly; SameSite=Strict$/,
    );

    const me = await request(t.server).get('/auth/me').set('Authorization', `Bearer ${accessToken}`).expect(200);
    expect(me.body).toEqual({ id: expect.any(String), username, roles: [] });

    const refreshed = await refresh(t.server, refreshToken).expect(200);
    const next = refreshCookie(refreshed)!;
    expect(next).not.toBe(refreshToken);
    await request(t.server).get('/auth/me').set('Authorization', `Bearer ${refreshed.body.access_token}`).expect(200);

    await request(t.server).post('/auth/logout').set('Cookie', `refresh_token=${next}`).expect(204);
    await refresh(t.server, next).expect(401);
  });
});
