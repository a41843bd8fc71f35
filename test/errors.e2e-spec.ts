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

  it('answers a known path with the wrong method with 404 in the common shape', async () => {
    const response = await request(t.server).get('/auth/login');
    expectErrorBody(response, 404, 'Not Found');
  });

  it('answers a body over 100 kB with 413 in the common shape', async () => {
    const response = await request(t.server)
      .post('/auth/register')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ username: 'biguser', password: 'p'.repeat(110 * 1024) }));
    expectErrorBody(response, 413, 'Payload Too Large');
    expect(response.body.message).toBe('Request body is too large');
  });

  it('accepts a body just under the limit (it is the size that is refused, not the route)', async () => {
    // 90 kB of unknown field: passes the size check, then fails validation with 400.
    const response = await request(t.server)
      .post('/auth/register')
      .send({ username: uniqueUsername('near'), password: DEFAULT_PASSWORD, padding: 'x'.repeat(90 * 1024) });
    expectErrorBody(response, 400, 'Bad Request');
  });

  it('answers an unsupported content type with a 4xx in the common shape, storing nothing', async () => {
    const username = uniqueUsername('xml');
    const response = await request(t.server)
      .post('/auth/register')
      .set('Content-Type', 'application/xml')
      .send(`<user><username>${username}</username><password>${DEFAULT_PASSWORD}</password></user>`);
    expectErrorBody(response, 415, 'Unsupported Media Type');
    expect(response.body.message).toMatch(/unsupported/i);

    await request(t.server).post('/auth/login').send({ username, password: DEFAULT_PASSWORD }).expect(401);
  });

  it('does not read JSON credentials sent as text/plain: 400, no login', async () => {
    const { username } = await login(t.server);
    const response = await request(t.server)
      .post('/auth/login')
      .set('Content-Type', 'text/plain')
      .send(JSON.stringify({ username, password: DEFAULT_PASSWORD }));
    expectErrorBody(response, 400, 'Bad Request');
    expect(response.headers['set-cookie']).toBeUndefined();
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
    expectErrorBody(await request(t.server).post('/auth/login').send({ username, password: 'wrong password' }), 401, 'Unauthorized');
    expectErrorBody(await me(t.server, 'bad.token.here'), 401, 'Unauthorized');
    expectErrorBody(await request(t.server).post('/auth/refresh'), 401, 'Unauthorized');
  });

  // A 20 kB body, well under the size limit, that is valid JSON of the wrong type. It must be a
  // 400 like any other wrong type; deep nesting must not be able to crash request handling.
  it.each([
    ['register, nested arrays', '/auth/register', `${'['.repeat(10_000)}${']'.repeat(10_000)}`],
    ['login, nested arrays', '/auth/login', `${'['.repeat(10_000)}${']'.repeat(10_000)}`],
    [
      'register, nested objects as the username',
      '/auth/register',
      `{"username":${'{"a":'.repeat(8_000)}1${'}'.repeat(8_000)},"password":"${DEFAULT_PASSWORD}"}`,
    ],
  ])('answers deeply nested JSON (%s) with 400, not 500', async (_case, path, body) => {
    expect(body.length).toBeLessThan(100 * 1024);
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
