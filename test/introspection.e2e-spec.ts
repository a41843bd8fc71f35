import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { AuthServerClient, ClientAuthenticationError } from '../resource-server/src/auth-server-client.js';
import { UserAdministrationService } from '../src/authz/user-administration.service.js';
import { ClientsService } from '../src/clients/clients.service.js';
import { createTestApp, type TestApp } from './utils/create-test-app.js';
import { decodeJwt, forgeJwt, login, logout, sleep } from './utils/http.js';

const ISSUER = 'http://issuer.test';
const INACTIVE = { active: false };
const CLI = { via: 'cli' } as const;

let t: TestApp;
let credentials: { id: string; secret: string };

/** RFC 6749 §2.3.1, as the kit sends it: both halves form-urlencoded, then base64. */
function basic(id: string, secret: string): string {
  const form = (value: string) => new URLSearchParams([['', value]]).toString().slice(1);
  return `Basic ${Buffer.from(`${form(id)}:${form(secret)}`).toString('base64')}`;
}

function introspect(
  body: Record<string, unknown> | undefined,
  authorization = basic(credentials.id, credentials.secret),
) {
  const req = request(t.server).post('/auth/introspect').set('Authorization', authorization);
  return body === undefined ? req : req.type('form').send(body);
}

async function introspected(token: string): Promise<Record<string, unknown>> {
  const response = await introspect({ token }).expect(200);
  expect(response.headers['cache-control']).toBe('no-store');
  return response.body as Record<string, unknown>;
}

async function newClient(app: TestApp): Promise<{ id: string; secret: string }> {
  const { client, secret } = await app.app.get(ClientsService).create('orders api', CLI);
  return { id: client.id, secret };
}

describe('POST /auth/introspect (RFC 7662, e2e)', () => {
  beforeAll(async () => {
    t = await createTestApp({ ALLOWED_SCOPES: 'notes:read notes:write', LOGIN_MAX_FAILURES_PER_IP: '5' });
    credentials = await newClient(t);
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers an active access token with its claims and the username, and no-store', async () => {
    const { username, accessToken } = await login(t.server);
    const claims = decodeJwt(accessToken).payload;
    expect(await introspected(accessToken)).toEqual({
      active: true,
      token_type: 'Bearer',
      sub: claims.sub,
      sid: claims.sid,
      username,
      roles: [],
      exp: claims.exp,
      iat: claims.iat,
      iss: ISSUER,
      aud: ISSUER,
      jti: claims.jti,
    });
  });

  it('includes the scope and the roles of the token; takes JSON and any token_type_hint', async () => {
    const user = (await login(t.server)).username;
    await t.app.get(UserAdministrationService).grant(user, 'support', CLI);
    const scoped = await request(t.server)
      .post('/auth/login')
      .send({ username: user, password: 'correct horse battery', scope: 'notes:read' })
      .expect(200);
    const token = scoped.body.access_token as string;
    const answer = await introspect(undefined).send({ token, token_type_hint: 'refresh_token' }).expect(200);
    expect(answer.body).toMatchObject({ active: true, scope: 'notes:read', roles: ['support'], username: user });
  });

  it('answers exactly {active: false} for a revoked session, a refresh token, a forged, a malformed or an unknown token', async () => {
    const session = await login(t.server);
    const claims = decodeJwt(session.accessToken);
    expect((await introspected(session.accessToken)).active).toBe(true);
    await logout(t.server, session.refreshToken).expect(204);
    expect(await introspected(session.accessToken)).toEqual(INACTIVE);

    const live = await login(t.server);
    const [header, payload, signature] = live.accessToken.split('.');
    const tampered = decodeJwt(live.accessToken).payload;
    const cases = [
      live.refreshToken,
      // Another user's id under the same signature.
      `${header}.${Buffer.from(JSON.stringify({ ...tampered, sub: randomUUID() })).toString('base64url')}.${signature}`,
      `${header}.${payload}.${randomBytes(256).toString('base64url')}`,
      forgeJwt({ ...claims.header, alg: 'none' }, tampered),
      forgeJwt({ ...claims.header, alg: 'HS256' }, tampered, randomBytes(32)),
      'abc',
      'a.b.c',
      `${live.accessToken} `,
      '\u0000',
      'x'.repeat(20_000),
      randomBytes(32).toString('base64url'),
    ];
    for (const token of cases) {
      expect({ token: token.slice(0, 40), body: await introspected(token) }).toEqual({
        token: token.slice(0, 40),
        body: INACTIVE,
      });
    }
    // The control: the untampered token is active.
    expect((await introspected(live.accessToken)).active).toBe(true);
  });

  it('a role change makes older tokens inactive within a second; the next token is active', async () => {
    const session = await login(t.server);
    expect((await introspected(session.accessToken)).active).toBe(true);
    const changed = Date.now();
    await t.app.get(UserAdministrationService).grant(session.username, 'auditor', CLI);
    let inactiveAfter: number | undefined;
    // The 1 s bar is measured by the CI suites (test:multi, test:resource-servers); npm test runs on
    // busy machines too, so here it only has to happen.
    while (inactiveAfter === undefined && Date.now() - changed < 10_000) {
      if (!(await introspected(session.accessToken)).active) inactiveAfter = Date.now() - changed;
      else await sleep(20);
    }
    expect(inactiveAfter).toBeDefined();
    expect(inactiveAfter!).toBeLessThan(10_000);
    expect(await introspected(session.accessToken)).toEqual(INACTIVE);

    const refreshed = await request(t.server)
      .post('/auth/token')
      .type('form')
      .send({ grant_type: 'refresh_token', refresh_token: session.refreshToken })
      .expect(200);
    expect(await introspected(refreshed.body.access_token as string)).toMatchObject({
      active: true,
      roles: ['auditor'],
    });
  });

  it('a disabled user: inactive at once', async () => {
    const session = await login(t.server);
    expect((await introspected(session.accessToken)).active).toBe(true);
    await t.app.get(UserAdministrationService).disable(session.username, CLI);
    expect(await introspected(session.accessToken)).toEqual(INACTIVE);
  });

  it('refuses a missing or repeated token with 400 invalid_request', async () => {
    for (const body of [{}, { token: '' }, { token: ['a', 'b'] }, { token_type_hint: 'access_token' }]) {
      const response = await introspect(body).expect(400);
      expect(response.body).toEqual({ error: 'invalid_request', error_description: expect.any(String) });
      expect(response.headers['cache-control']).toBe('no-store');
    }
    expect((await introspect({}).expect(400)).body.error_description).toBe('Missing parameter "token"');
    // No body at all is a missing token too, not a 500.
    await introspect(undefined).expect(400);
  });

  it('needs client authentication: 401 invalid_client with a Basic challenge, before the body is looked at', async () => {
    const { accessToken } = await login(t.server);
    const other = await newClient(t);
    await t.app.get(ClientsService).delete(other.id, CLI);
    for (const authorization of [
      '',
      `Bearer ${accessToken}`,
      basic(credentials.id, `${credentials.secret}x`),
      basic(credentials.id, credentials.secret.toUpperCase()),
      basic(other.id, other.secret),
    ]) {
      const req = request(t.server).post('/auth/introspect').type('form');
      if (authorization) req.set('Authorization', authorization);
      const response = await req.send({ token: accessToken }).expect(401);
      expect(response.body).toEqual({ error: 'invalid_client', error_description: expect.any(String) });
      expect(response.headers['www-authenticate']).toMatch(/^Basic realm="nest-token-auth"/);
      expect(response.headers['cache-control']).toBe('no-store');
      expect(JSON.stringify(response.body)).not.toContain('"active"');
    }
  });

  it('advertises the endpoint and client_secret_basic in the server metadata (RFC 8414)', async () => {
    const metadata = await request(t.server).get('/.well-known/oauth-authorization-server').expect(200);
    expect(metadata.body).toMatchObject({
      introspection_endpoint: `${ISSUER}/auth/introspect`,
      introspection_endpoint_auth_methods_supported: ['client_secret_basic'],
    });
  });

  it("answers the kit's AuthServerClient (form-encoded client_secret_basic over real HTTP)", async () => {
    await t.app.listen(0, '127.0.0.1');
    const base = `http://127.0.0.1:${(t.server.address() as AddressInfo).port}`;
    const { accessToken, username } = await login(t.server);
    const kit = new AuthServerClient(base, credentials.id, credentials.secret, 5000);
    await expect(kit.introspect(accessToken)).resolves.toMatchObject({ active: true, username });
    await expect(kit.introspect('nonsense')).resolves.toEqual(INACTIVE);
    const wrong = new AuthServerClient(base, credentials.id, 'not the secret', 5000);
    await expect(wrong.introspect(accessToken)).rejects.toBeInstanceOf(ClientAuthenticationError);
  });

  // Last: it leaves this address blocked for client authentication.
  it('throttles failed client authentications per IP: 429 slow_down with Retry-After; the right secret still passes', async () => {
    const { accessToken } = await login(t.server);
    let failures = 0;
    for (;;) {
      const response = await introspect({ token: accessToken }, basic(credentials.id, `guess-${failures}`));
      if (response.status === 429) break;
      expect(response.status).toBe(401);
      failures++;
      expect(failures).toBeLessThanOrEqual(5);
    }
    // Earlier tests spent some of the five already; never more than the limit gets a check.
    expect(failures).toBeLessThanOrEqual(5);
    const blocked = await introspect({ token: accessToken }, basic(credentials.id, 'one more guess')).expect(429);
    expect(blocked.body).toEqual({
      error: 'slow_down',
      error_description: expect.stringMatching(/client authentications/),
    });
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    // The resource server sharing the address is not locked out by someone else's guesses.
    expect((await introspect({ token: accessToken }).expect(200)).body).toMatchObject({ active: true });
    // Without credentials it is no guess: still the 401 that says how to authenticate.
    await request(t.server).post('/auth/introspect').type('form').send({ token: accessToken }).expect(401);
  });
});

/**
 * HS256 with a known secret, so tokens can be signed that the server would accept but for one
 * claim: the expired one, and the one without `exp`, are inactive; the control is active.
 */
describe('POST /auth/introspect with hand-signed tokens (e2e)', () => {
  const secret = randomBytes(48).toString('base64url');

  beforeAll(async () => {
    t = await createTestApp({ JWT_ALG: 'HS256', JWT_SECRET: secret });
    credentials = await newClient(t);
  });
  afterAll(async () => {
    await t.close();
  });

  it('expired or without exp: inactive; the same claims within their lifetime: active', async () => {
    const { accessToken } = await login(t.server);
    const { header, payload } = decodeJwt(accessToken);
    const now = Math.floor(Date.now() / 1000);
    expect((await introspected(forgeJwt(header, { ...payload, exp: now + 60 }, secret))).active).toBe(true);
    expect(await introspected(forgeJwt(header, { ...payload, iat: now - 120, exp: now - 60 }, secret))).toEqual(
      INACTIVE,
    );
    const { exp: _exp, ...withoutExp } = payload;
    expect(await introspected(forgeJwt(header, withoutExp, secret))).toEqual(INACTIVE);
    expect(await introspected(forgeJwt({ ...header, typ: 'JWT' }, payload, secret))).toEqual(INACTIVE);
    expect(await introspected(forgeJwt(header, { ...payload, aud: 'https://elsewhere' }, secret))).toEqual(INACTIVE);
  });
});
