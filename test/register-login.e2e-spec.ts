import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { createTestApp, type TestApp } from './utils/create-test-app.js';
import {
  DEFAULT_PASSWORD,
  expectErrorBody,
  login,
  me,
  parseRefreshSetCookie,
  register,
  uniqueUsername,
} from './utils/http.js';

const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('register and login (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  const post = (path: string, body: unknown) =>
    request(t.server)
      .post(path)
      .send(body as object);

  /**
   * A rejected registration must leave nothing behind: the credentials do not log in. Login
   * answers 401, or 400 when the credentials are outside even the login DTO's bounds.
   */
  async function expectNotStored(username: string, password: string) {
    const response = await post('/auth/login', { username, password });
    const fitsLoginDto =
      username.length >= 1 &&
      username.length <= 64 &&
      // eslint-disable-next-line no-control-regex -- finding control characters is the point
      !/[\u0000-\u001f\u007f]/.test(username) &&
      password.length >= 1 &&
      password.length <= 128;
    if (fitsLoginDto) expectErrorBody(response, 401, 'Unauthorized');
    else expectErrorBody(response, 400, 'Bad Request');
  }

  describe('POST /auth/register', () => {
    it('returns 201 with id, username as typed and an ISO createdAt', async () => {
      const username = uniqueUsername('Reg.Ok-');
      const before = Date.now();
      const response = await post('/auth/register', { username, password: DEFAULT_PASSWORD }).expect(201);
      const after = Date.now();

      expect(response.body).toEqual({
        id: expect.stringMatching(UUID),
        username,
        createdAt: expect.stringMatching(ISO_DATE),
      });
      const createdAt = new Date(response.body.createdAt).getTime();
      expect(createdAt).toBeGreaterThanOrEqual(before);
      expect(createdAt).toBeLessThanOrEqual(after);
      expect(JSON.stringify(response.body)).not.toContain(DEFAULT_PASSWORD);
    });

    it('gives every account its own id, and /auth/me names the registered user', async () => {
      const a = await post('/auth/register', { username: uniqueUsername('ida'), password: DEFAULT_PASSWORD }).expect(
        201,
      );
      const b = await post('/auth/register', { username: uniqueUsername('idb'), password: DEFAULT_PASSWORD }).expect(
        201,
      );
      expect(a.body.id).not.toBe(b.body.id);

      const { accessToken } = await login(t.server, a.body.username);
      const whoami = await me(t.server, accessToken).expect(200);
      expect(whoami.body).toEqual({ id: a.body.id, username: a.body.username, roles: [] });
    });

    it('accepts the boundary lengths: 3 and 64 character usernames, 8 and 128 character passwords', async () => {
      // Each suite has its own in-memory database, so a fixed 3-character name is free here.
      const three = 'a.3';
      const sixtyFour = `${uniqueUsername('long')}_`.padEnd(64, 'x');
      expect(sixtyFour).toHaveLength(64);

      await post('/auth/register', { username: three, password: 'p'.repeat(8) }).expect(201);
      await post('/auth/register', { username: sixtyFour, password: 'p'.repeat(128) }).expect(201);

      await login(t.server, three, 'p'.repeat(8));
      await login(t.server, sixtyFour, 'p'.repeat(128));
    });

    it('accepts every allowed character class: letters, digits, "_", "." and "-"', async () => {
      const username = `Az09_.-${uniqueUsername('')}`;
      const response = await post('/auth/register', { username, password: DEFAULT_PASSWORD }).expect(201);
      expect(response.body.username).toBe(username);
    });

    it.each([
      ['too short (2 chars)', 'ab'],
      ['too long (65 chars)', 'u'.repeat(65)],
      ['a space', 'bad name'],
      ['a non-ASCII letter', 'jürgen'],
      ['an @', 'me@example'],
      ['a slash', 'a/b/c'],
      ['empty', ''],
      ['followed by a newline', 'alice\n'],
      ['padded with spaces', ' alice '],
    ])('rejects a username that is %s with 400 naming the field, and stores nothing', async (_case, username) => {
      const response = await post('/auth/register', { username, password: DEFAULT_PASSWORD });
      expectErrorBody(response, 400, 'Bad Request');
      expect(response.body.message).toEqual(expect.arrayContaining([expect.stringContaining('username')]));
      expect((response.body.message as string[]).some((m) => m.includes('password'))).toBe(false);
      await expectNotStored(username, DEFAULT_PASSWORD);
    });

    it.each([
      ['too short (7 chars)', 'p'.repeat(7)],
      ['too long (129 chars)', 'p'.repeat(129)],
    ])('rejects a password that is %s with 400 naming the field, and stores nothing', async (_case, password) => {
      const username = uniqueUsername('pw');
      const response = await post('/auth/register', { username, password });
      expectErrorBody(response, 400, 'Bad Request');
      expect(response.body.message).toEqual([expect.stringContaining('password')]);
      await expectNotStored(username, password);
      // Nothing was stored, so the name is still free.
      await post('/auth/register', { username, password: DEFAULT_PASSWORD }).expect(201);
    });

    it('rejects unknown fields with 400 and does not create the user', async () => {
      const username = uniqueUsername('extra');
      const response = await post('/auth/register', { username, password: DEFAULT_PASSWORD, isAdmin: true });
      expectErrorBody(response, 400, 'Bad Request');
      expect(response.body.message).toEqual([expect.stringMatching(/isAdmin should not exist/)]);
      await expectNotStored(username, DEFAULT_PASSWORD);
      await post('/auth/register', { username, password: DEFAULT_PASSWORD }).expect(201);
    });

    it.each([
      ['a numeric username', { username: 12345, password: DEFAULT_PASSWORD }, 'username'],
      ['a numeric password', { username: 'typeduser', password: 12345678 }, 'password'],
      ['an array username', { username: ['alice'], password: DEFAULT_PASSWORD }, 'username'],
      ['an object password', { username: 'typeduser', password: { length: 9 } }, 'password'],
      ['a null username', { username: null, password: DEFAULT_PASSWORD }, 'username'],
    ])('rejects %s with 400 "must be a string"', async (_case, body, field) => {
      const response = await post('/auth/register', body);
      expectErrorBody(response, 400, 'Bad Request');
      expect(response.body.message).toEqual(expect.arrayContaining([`${field} must be a string`]));
    });

    it('rejects a missing body with 400 listing both fields', async () => {
      const response = await request(t.server).post('/auth/register');
      expectErrorBody(response, 400, 'Bad Request');
      const messages = response.body.message as string[];
      expect(messages.some((m) => m.startsWith('username'))).toBe(true);
      expect(messages.some((m) => m.startsWith('password'))).toBe(true);
    });

    it('rejects malformed JSON with 400 and stores nothing', async () => {
      const username = uniqueUsername('badjson');
      const response = await request(t.server)
        .post('/auth/register')
        .set('Content-Type', 'application/json')
        .send(`{"username":"${username}","password":"${DEFAULT_PASSWORD}"`);
      expectErrorBody(response, 400, 'Bad Request');
      await expectNotStored(username, DEFAULT_PASSWORD);
    });

    it('rejects a JSON array or a JSON string body with 400', async () => {
      expectErrorBody(
        await post('/auth/register', [{ username: 'arrayuser', password: DEFAULT_PASSWORD }]),
        400,
        'Bad Request',
      );
      const asString = await request(t.server)
        .post('/auth/register')
        .set('Content-Type', 'application/json')
        .send('"hello"');
      expectErrorBody(asString, 400, 'Bad Request');
    });

    it('answers 409 for a name taken in another letter case, keeping the first account', async () => {
      const base = uniqueUsername('alice');
      const first = await post('/auth/register', { username: base, password: DEFAULT_PASSWORD }).expect(201);

      for (const variant of [base, base.toUpperCase(), `A${base.slice(1)}`]) {
        const response = await post('/auth/register', { username: variant, password: 'another password' });
        expectErrorBody(response, 409, 'Conflict');
        expect(response.body.message).toBe('Username is already taken');
      }

      // The second password was never stored; the first still works.
      await expectNotStored(base, 'another password');
      const { accessToken } = await login(t.server, base);
      expect((await me(t.server, accessToken).expect(200)).body).toEqual({
        id: first.body.id,
        username: base,
        roles: [],
      });
    });

    it('lets exactly one of two parallel registrations of the same name win (201 + 409, never 500)', async () => {
      for (let round = 0; round < 5; round += 1) {
        const username = uniqueUsername('race');
        const responses = await Promise.all([
          post('/auth/register', { username, password: 'password-one' }),
          post('/auth/register', { username: username.toUpperCase(), password: 'password-two' }),
        ]);
        const statuses = responses.map((r) => r.status).sort();
        expect(statuses).toEqual([201, 409]);
        const loser = responses.find((r) => r.status === 409)!;
        expectErrorBody(loser, 409, 'Conflict');

        // Only the winner's password logs in.
        const winnerPassword = responses[0].status === 201 ? 'password-one' : 'password-two';
        const loserPassword = winnerPassword === 'password-one' ? 'password-two' : 'password-one';
        await post('/auth/login', { username, password: winnerPassword }).expect(200);
        await expectNotStored(username, loserPassword);
      }
    });
  });

  describe('POST /auth/login', () => {
    it('returns 200 with the token body, no-store, and the refresh token only in a strict HttpOnly cookie', async () => {
      const { username, password } = await register(t.server);
      const response = await post('/auth/login', { username, password });

      expect(response.status).toBe(200);
      expect(response.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 3600 });
      expect(response.body.access_token.split('.')).toHaveLength(3);
      expect(response.headers['cache-control']).toBe('no-store');
      expect(response.headers['content-type']).toMatch(/^application\/json/);

      const cookie = parseRefreshSetCookie(response)!;
      expect(cookie.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
      // REFRESH_TOKEN_TTL defaults to 1d; the cookie may round down by the second the request took.
      expect(cookie.attributes).toEqual({
        'max-age': expect.stringMatching(/^(86400|86399)$/),
        path: '/auth',
        httponly: true,
        samesite: 'Strict',
      });
      expect(cookie.attributes.secure).toBeUndefined();

      // The refresh token never appears in the JSON, under any name.
      expect(response.text).not.toContain(cookie.value);
      expect(Object.keys(response.body).sort()).toEqual(['access_token', 'expires_in', 'token_type']);
    });

    it('issues a different refresh token and access token on every login', async () => {
      const { username } = await register(t.server);
      const first = await login(t.server, username);
      const second = await login(t.server, username);
      expect(second.refreshToken).not.toBe(first.refreshToken);
      expect(second.accessToken).not.toBe(first.accessToken);
      await me(t.server, first.accessToken).expect(200);
      await me(t.server, second.accessToken).expect(200);
    });

    it('matches the username case-insensitively', async () => {
      const username = uniqueUsername('CaseUser');
      await register(t.server, username);
      const response = await post('/auth/login', {
        username: username.toLowerCase(),
        password: DEFAULT_PASSWORD,
      }).expect(200);
      const whoami = await me(t.server, response.body.access_token).expect(200);
      expect(whoami.body.username).toBe(username);
    });

    it('answers a wrong password and an unknown user with identical 401 bodies', async () => {
      const { username } = await register(t.server);
      const wrongPassword = await post('/auth/login', { username, password: 'not the password' });
      const unknownUser = await post('/auth/login', { username: uniqueUsername('ghost'), password: DEFAULT_PASSWORD });

      expectErrorBody(wrongPassword, 401, 'Unauthorized');
      expectErrorBody(unknownUser, 401, 'Unauthorized');
      expect(wrongPassword.body).toEqual({
        statusCode: 401,
        error: 'Unauthorized',
        message: 'Invalid username or password',
      });
      expect(unknownUser.text).toBe(wrongPassword.text);
      expect(unknownUser.headers['www-authenticate']).toBe(wrongPassword.headers['www-authenticate']);
      // A failed login sets no refresh cookie.
      expect(parseRefreshSetCookie(wrongPassword)).toBeUndefined();
      expect(parseRefreshSetCookie(unknownUser)).toBeUndefined();
    });

    it('rejects a login body with unknown fields or wrong types with 400 field messages', async () => {
      const { username } = await register(t.server);
      const extra = await post('/auth/login', { username, password: DEFAULT_PASSWORD, remember: true });
      expectErrorBody(extra, 400, 'Bad Request');
      expect(extra.body.message).toEqual(['property remember should not exist']);

      const typed = await post('/auth/login', { username, password: 12345678 });
      expectErrorBody(typed, 400, 'Bad Request');
      expect(typed.body.message).toEqual(expect.arrayContaining(['password must be a string']));

      const missing = await request(t.server).post('/auth/login');
      expectErrorBody(missing, 400, 'Bad Request');
    });

    it('rejects malformed JSON on login with 400', async () => {
      const response = await request(t.server)
        .post('/auth/login')
        .set('Content-Type', 'application/json')
        .send('{"username":');
      expectErrorBody(response, 400, 'Bad Request');
    });
  });
});

describe('login with COOKIE_SECURE=true (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ COOKIE_SECURE: 'true' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('adds Secure to the refresh cookie, keeping the other attributes', async () => {
    const { response } = await login(t.server);
    const cookie = parseRefreshSetCookie(response)!;
    expect(cookie.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(cookie.attributes).toEqual({
      'max-age': expect.stringMatching(/^(86400|86399)$/),
      path: '/auth',
      httponly: true,
      secure: true,
      samesite: 'Strict',
    });
  });

  it('keeps Secure on the cookie that logout and a failed refresh clear', async () => {
    const { refreshToken } = await login(t.server);
    const loggedOut = await request(t.server)
      .post('/auth/logout')
      .set('Cookie', `refresh_token=${refreshToken}`)
      .expect(204);
    expect(parseRefreshSetCookie(loggedOut)).toMatchObject({ value: '', attributes: { secure: true, path: '/auth' } });
    const rejected = await request(t.server)
      .post('/auth/refresh')
      .set('Cookie', `refresh_token=${refreshToken}`)
      .expect(401);
    expect(parseRefreshSetCookie(rejected)).toMatchObject({ value: '', attributes: { secure: true, path: '/auth' } });
  });
});
