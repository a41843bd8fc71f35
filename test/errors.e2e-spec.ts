import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { createTestApp, type TestApp } from './utils/create-test-app.js';
import { DEFAULT_PASSWORD, expectErrorBody, login, me, uniqueUsername } from './utils/http.js';

describe('error responses (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers an unknown route with 404 in the common shape', async () => {
    const response = await request(t.server).get('/no/such/route');
    expectErrorBody(response, 404, 'Not Found');
    expect(response.body.message).toEqual(expect.stringContaining('/no/such/route'));
    expect(response.headers['content-type']).toMatch(/^application\/json/);
  });

  it('refuses a body nested deeper than 16 levels with 400 before validation, on POST and PATCH routes', async () => {
    const deep = `${'{"a":'.repeat(20)}1${'}'.repeat(20)}`;
    const nested = (body: string) => body.replace('{"a":', '{"username":"x","password":"y","a":');
    const post = await request(t.server).post('/auth/login').set('Content-Type', 'application/json').send(nested(deep));
    expectErrorBody(post, 400, 'Bad Request');
    expect(post.body.message).toEqual(expect.stringContaining('nests deeper than 16 levels'));
    const patch = await request(t.server)
      .patch('/admin/users/5d9e5f4c-0000-4000-8000-000000000000')
      .set('Content-Type', 'application/json')
      .send(deep);
    // Fastify's preValidation runs before Nest's guards: refused for its depth, not its missing token.
    expectErrorBody(patch, 400, 'Bad Request');
    expect(patch.body.message).toEqual(expect.stringContaining('nests deeper than 16 levels'));
    // Shallow bodies still reach validation.
    const shallow = await request(t.server)
      .post('/auth/login')
      .send({ username: 'x', password: 'y', a: { b: 1 } });
    expectErrorBody(shallow, 400, 'Bad Request');
    expect(JSON.stringify(shallow.body.message)).not.toContain('nests deeper');
  });

  it('answers a known path with the wrong method with 405 and an Allow header listing its methods', async () => {
    const login = await request(t.server).get('/auth/login');
    expectErrorBody(login, 405, 'Method Not Allowed');
    expect(login.headers.allow).toBe('POST');
    expect(login.body.message).toBe('Cannot GET /auth/login; this path allows POST');

    const sessions = await request(t.server).delete('/auth/sessions');
    expectErrorBody(sessions, 405, 'Method Not Allowed');
    expect(sessions.headers.allow).toBe('GET, HEAD');

    // A path with a parameter, and a spelling the router decodes, are the same known paths.
    const session = await request(t.server).post('/auth/sessions/5d9e5f4c-0000-4000-8000-000000000000');
    expectErrorBody(session, 405, 'Method Not Allowed');
    expect(session.headers.allow).toBe('DELETE');
    expect((await request(t.server).get('/auth/%74oken')).headers.allow).toBe('POST');

    // The OAuth endpoints keep their error shape, with the 405 and its Allow header.
    const token = await request(t.server).get('/auth/token?grant_type=password');
    expect(token.status).toBe(405);
    expect(token.headers.allow).toBe('POST');
    expect(token.body).toEqual({ error: 'invalid_request', error_description: expect.stringContaining('POST') });

    // Unknown paths stay 404, with no Allow header.
    const unknown = await request(t.server).post('/auth/no-such-route');
    expectErrorBody(unknown, 404, 'Not Found');
    expect(unknown.headers.allow).toBeUndefined();
  });

  // The router refuses these before any hook runs; they get our shape and our headers all the same.
  it.each([
    ['a malformed percent-encoding', 400, 'Bad Request', 'get', '/auth/%E0%A4%A'],
    ['a malformed percent-encoding on an unknown path', 400, 'Bad Request', 'post', '/no/%FF%'],
    ['an over-long route parameter', 414, 'URI Too Long', 'delete', `/auth/sessions/${'a'.repeat(2_000)}`],
  ] as const)(
    'answers %s with %i in the common shape, with the security headers',
    async (_label, status, error, method, path) => {
      const response = await request(t.server)[method](path);
      expectErrorBody(response, status, error);
      expect(response.body.message).not.toContain(path);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      expect(response.headers['content-security-policy']).toContain("default-src 'self'");
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['x-frame-options']).toBe('SAMEORIGIN');
    },
  );

  it('answers a wrong method before reading the body', async () => {
    // Not JSON, and over every limit: a 405 all the same, since the body is never parsed.
    const response = await request(t.server)
      .put('/auth/login')
      .set('Content-Type', 'application/json')
      .send(`{"x":"${'y'.repeat(200 * 1024)}`);
    expectErrorBody(response, 405, 'Method Not Allowed');
  });

  // Fastify parses a body before guards run: a route that takes none must not read 100 kB of it
  // for a client without a token either.
  it.each([
    ['POST', '/auth/refresh'],
    ['POST', '/auth/logout'],
    ['POST', '/auth/logout-all'],
    ['DELETE', '/auth/sessions/5d9e5f4c-0000-4000-8000-000000000000'],
  ])('answers a body over 4 kB on %s %s, which takes none, with 413', async (method, path) => {
    const send = (bytes: number) =>
      request(t.server)
        [method === 'POST' ? 'post' : 'delete'](path)
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ padding: 'p'.repeat(bytes) }));
    const over = await send(5 * 1024);
    expectErrorBody(over, 413, 'Payload Too Large');
    expect(over.body.message).toBe('Request body is too large');
    // A small body is still ignored, as before: clients that send `{}` keep working.
    expect((await send(10)).status).not.toBe(413);
  });

  it.each(['/auth/register', '/auth/login', '/auth/password'])(
    'answers a body over 4 kB on %s with 413 in the common shape, and takes one just under it',
    async (path) => {
      const over = await request(t.server)
        .post(path)
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ username: 'biguser', password: 'p'.repeat(4 * 1024) }));
      expectErrorBody(over, 413, 'Payload Too Large');
      expect(over.body.message).toBe('Request body is too large');

      // 4,000 bytes of unknown field: read, then refused by validation (or by the Bearer guard).
      const under = await request(t.server)
        .post(path)
        .send({ username: uniqueUsername('near'), password: DEFAULT_PASSWORD, padding: 'x'.repeat(3_900) });
      expect(under.status).toBe(path === '/auth/password' ? 401 : 400);
    },
  );

  it.each(['/auth/token', '/auth/revoke'])(
    'answers a body over 4 kB on %s with an OAuth invalid_request',
    async (path) => {
      const response = await request(t.server)
        .post(path)
        .type('form')
        .send({ grant_type: 'password', token: 't'.repeat(4 * 1024) });
      expect(response.status).toBe(400);
      expect(response.body).toEqual({ error: 'invalid_request', error_description: 'Request body is too large' });
    },
  );

  it('answers an unsupported content type with 415 naming application/json, storing nothing', async () => {
    const username = uniqueUsername('xml');
    const response = await request(t.server)
      .post('/auth/register')
      .set('Content-Type', 'application/xml')
      .send(`<user><username>${username}</username><password>${DEFAULT_PASSWORD}</password></user>`);
    expectErrorBody(response, 415, 'Unsupported Media Type');
    expect(response.body.message).toBe('Content-Type must be application/json');

    await request(t.server).post('/auth/login').send({ username, password: DEFAULT_PASSWORD }).expect(401);
  });

  it.each([
    ['text/plain', 'text/plain'],
    ['text/plain with a charset', 'text/plain; charset=utf-8'],
    ['a form', 'application/x-www-form-urlencoded'],
  ])(
    'answers JSON credentials sent as %s with 415 naming application/json: no field errors, no login',
    async (_label, type) => {
      const { username } = await login(t.server);
      for (const path of ['/auth/login', '/auth/register']) {
        const response = await request(t.server)
          .post(path)
          .set('Content-Type', type)
          .send(JSON.stringify({ username, password: DEFAULT_PASSWORD }));
        expectErrorBody(response, 415, 'Unsupported Media Type');
        expect(response.body.message).toBe('Content-Type must be application/json');
        expect(response.headers['set-cookie']).toBeUndefined();
      }
      // A body with no Content-Type at all is refused the same way.
      const untyped = await request(t.server)
        .post('/auth/login')
        .set('Content-Type', '')
        .send(JSON.stringify({ username, password: DEFAULT_PASSWORD }));
      expectErrorBody(untyped, 415, 'Unsupported Media Type');
    },
  );

  it('takes a form or JSON on the OAuth endpoints, and answers other types with invalid_request naming both', async () => {
    const { username } = await login(t.server);
    const form = await request(t.server)
      .post('/auth/token')
      .type('form')
      .send({ grant_type: 'password', username, password: DEFAULT_PASSWORD });
    expect(form.status).toBe(200);
    const json = await request(t.server)
      .post('/auth/token')
      .send({ grant_type: 'password', username, password: DEFAULT_PASSWORD });
    expect(json.status).toBe(200);
    const plain = await request(t.server)
      .post('/auth/revoke')
      .set('Content-Type', 'text/plain')
      .send(`token=${json.body.refresh_token}`);
    expect(plain.status).toBe(400);
    expect(plain.body).toEqual({
      error: 'invalid_request',
      error_description: 'Content-Type must be application/x-www-form-urlencoded or application/json',
    });
    // The refused revocation revoked nothing.
    await request(t.server)
      .post('/auth/token')
      .type('form')
      .send({ grant_type: 'refresh_token', refresh_token: json.body.refresh_token })
      .expect(200);
  });

  it('still answers a body-less POST whatever Content-Type it names (the cookie routes send none)', async () => {
    const response = await request(t.server).post('/auth/refresh').set('Content-Type', 'text/plain');
    expectErrorBody(response, 401, 'Unauthorized');
  });

  it('answers malformed JSON with 400 in the common shape, without parser internals', async () => {
    const response = await request(t.server)
      .post('/auth/login')
      .set('Content-Type', 'application/json')
      .send('{"username": "a", "password": ');
    expectErrorBody(response, 400, 'Bad Request');
    expect(response.body.message).not.toMatch(/position \d+|Unexpected end/);
  });

  it('answers an empty JSON body with 400 in the common shape', async () => {
    const response = await request(t.server).post('/auth/register').set('Content-Type', 'application/json').send('');
    expectErrorBody(response, 400, 'Bad Request');
  });

  it('keeps the shape for validation (400), conflict (409) and auth (401) errors alike', async () => {
    const { username } = await login(t.server);
    expectErrorBody(await request(t.server).post('/auth/register').send({ username: 'x' }), 400, 'Bad Request');
    expectErrorBody(
      await request(t.server).post('/auth/register').send({ username, password: DEFAULT_PASSWORD }),
      409,
      'Conflict',
    );
    expectErrorBody(
      await request(t.server).post('/auth/login').send({ username, password: 'wrong password' }),
      401,
      'Unauthorized',
    );
    expectErrorBody(await me(t.server, 'bad.token.here'), 401, 'Unauthorized');
    expectErrorBody(await request(t.server).post('/auth/refresh'), 401, 'Unauthorized');
  });

  // Bodies under the route's size limit that are valid JSON of the wrong type. They must be a
  // 400 like any other wrong type; deep nesting must not be able to crash request handling.
  it.each([
    ['register, nested arrays', '/auth/register', `${'['.repeat(2_000)}${']'.repeat(2_000)}`],
    ['login, nested arrays', '/auth/login', `${'['.repeat(2_000)}${']'.repeat(2_000)}`],
    [
      'register, nested objects as the username',
      '/auth/register',
      `{"username":${'{"a":'.repeat(650)}1${'}'.repeat(650)},"password":"${DEFAULT_PASSWORD}"}`,
    ],
    ['logout-all, nested arrays', '/auth/logout-all', `${'['.repeat(2_000)}${']'.repeat(2_000)}`],
  ])('answers deeply nested JSON (%s) with 400, not 500', async (_case, path, body) => {
    expect(body.length).toBeLessThan(4 * 1024);
    const response = await request(t.server).post(path).set('Content-Type', 'application/json').send(body);
    expectErrorBody(response, 400, 'Bad Request');
    // And the server still serves normal requests.
    await login(t.server);
  });

  it('refuses a __proto__ key in a JSON body with 400', async () => {
    const response = await request(t.server)
      .post('/auth/register')
      .set('Content-Type', 'application/json')
      .send('{"username":"protouser","password":"correct horse battery","__proto__":{"isAdmin":true}}');
    expectErrorBody(response, 400, 'Bad Request');
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });
});

describe('validation messages (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  const post = (path: string, body: unknown) =>
    request(t.server).post(path).set('Content-Type', 'application/json').send(JSON.stringify(body));

  // One message per field: the first rule that fails, in the order required → type → format → range.
  it.each<[string, string, unknown, string[]]>([
    ['an empty register body', '/auth/register', {}, ['username is required', 'password is required']],
    ['no body at all', '/auth/register', undefined, ['username is required', 'password is required']],
    ['a missing password', '/auth/register', { username: 'alice' }, ['password is required']],
    [
      'a numeric username',
      '/auth/register',
      { username: 12345, password: DEFAULT_PASSWORD },
      ['username must be a string'],
    ],
    [
      'a null username',
      '/auth/register',
      { username: null, password: DEFAULT_PASSWORD },
      ['username must be a string'],
    ],
    ['an array password', '/auth/register', { username: 'alice', password: ['x'] }, ['password must be a string']],
    [
      'a username of the wrong format and length',
      '/auth/register',
      { username: 'a!', password: DEFAULT_PASSWORD },
      ['username may contain only letters, digits, "_", "." and "-"'],
    ],
    [
      'a username too short',
      '/auth/register',
      { username: 'ab', password: DEFAULT_PASSWORD },
      ['username must be longer than or equal to 3 characters'],
    ],
    ['a numeric login username', '/auth/login', { username: 42, password: 'x' }, ['username must be a string']],
    ['an empty login body', '/auth/login', {}, ['username is required', 'password is required']],
  ])('%s', async (_label, path, body, messages) => {
    const response = body === undefined ? await request(t.server).post(path) : await post(path, body);
    expectErrorBody(response, 400, 'Bad Request');
    expect(response.body.message).toEqual(messages);
  });

  it('gives one message for a query value of the wrong type, not three contradictory ranges', async () => {
    const { accessToken } = await login(t.server);
    const audit = (query: string) =>
      request(t.server).get(`/auth/audit?${query}`).set('Authorization', `Bearer ${accessToken}`);
    const abc = await audit('limit=abc');
    expectErrorBody(abc, 400, 'Bad Request');
    expect(abc.body.message).toEqual(['limit must be an integer number']);
    expect((await audit('limit=500')).body.message).toEqual(['limit must not be greater than 100']);
    expect((await audit('limit=0')).body.message).toEqual(['limit must not be less than 1']);
    expect((await audit('limit=5')).status).toBe(200);
  });

  it('stops at the first unknown field, on bodies and queries alike', async () => {
    const many = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, i]));
    const body = await post('/auth/register', { username: 'alice', password: DEFAULT_PASSWORD, ...many });
    expectErrorBody(body, 400, 'Bad Request');
    expect(body.body.message).toEqual(['property k0 should not exist']);

    const { accessToken } = await login(t.server);
    const query = Array.from({ length: 300 }, (_, i) => `q${i}=1`).join('&');
    const audit = await request(t.server)
      .get(`/auth/audit?limit=5&${query}`)
      .set('Authorization', `Bearer ${accessToken}`);
    expectErrorBody(audit, 400, 'Bad Request');
    expect(audit.body.message).toEqual(['property q0 should not exist']);
  });

  it('answers a JSON body that is not an object with one message', async () => {
    for (const body of ['"hello"', '[]', '[{"username":"alice","password":"correct horse battery"}]', '42']) {
      const response = await request(t.server)
        .post('/auth/register')
        .set('Content-Type', 'application/json')
        .send(body);
      expectErrorBody(response, 400, 'Bad Request');
      expect(response.body.message).toEqual(['The request body must be a JSON object']);
    }
  });

  it('keeps every error body under 4 kB, however long the URL or the unknown field', async () => {
    const longPath = await request(t.server).get(`/${'x'.repeat(12_000)}`);
    expectErrorBody(longPath, 404, 'Not Found');
    expect(Buffer.byteLength(longPath.text)).toBeLessThan(4096);

    const longKey = await post('/auth/login', { username: 'a', password: 'b', ['\u0001'.repeat(600)]: 1 });
    expectErrorBody(longKey, 400, 'Bad Request');
    expect(longKey.body.message).toEqual([`property ${'\u0001'.repeat(40)}… should not exist`]);
    expect(Buffer.byteLength(longKey.text)).toBeLessThan(4096);

    const { accessToken } = await login(t.server);
    const longQuery = await request(t.server)
      .get(`/auth/audit?${'%01'.repeat(3_000)}=1`)
      .set('Authorization', `Bearer ${accessToken}`);
    expectErrorBody(longQuery, 400, 'Bad Request');
    expect(Buffer.byteLength(longQuery.text)).toBeLessThan(4096);
  });
});

describe('control characters in usernames (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  // PostgreSQL refuses NUL in text; such input must be a 400 before it reaches the database.
  it('answers a NUL or newline in the login username with 400, not 500', async () => {
    for (const username of ['a\u0000b', 'alice\n']) {
      const response = await request(t.server).post('/auth/login').send({ username, password: 'whatever123' });
      expect(response.status).toBe(400);
      expect(JSON.stringify(response.body.message)).toContain('username');
    }
  });

  it('answers a NUL in a token-endpoint parameter with invalid_request', async () => {
    const response = await request(t.server)
      .post('/auth/token')
      .type('form')
      .send({ grant_type: 'password', username: 'a\u0000b', password: 'whatever123' });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('invalid_request');
  });
});
