import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { createTestApp, type TestApp } from './utils/create-test-app.js';
import { sessionRow } from './utils/db.js';
import { decodeJwt, expectErrorBody, forgeJwt, login, me, register } from './utils/http.js';

const ISSUER = 'http://issuer.test';
const REALM = /^Bearer realm="[^"]+"/;

function expectInvalidToken(response: request.Response) {
  expectErrorBody(response, 401, 'Unauthorized');
  const challenge = response.headers['www-authenticate'];
  expect(challenge).toMatch(REALM);
  expect(challenge).toContain('error="invalid_token"');
}

async function loggedInUser(app: TestApp) {
  const session = await login(app.server);
  const { header, payload } = decodeJwt(session.accessToken);
  return { ...session, header, sub: payload.sub as string, sid: payload.sid as string };
}

describe('access tokens and GET /auth/me (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ ACCESS_TOKEN_TTL: '10m' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('returns 200 {id, username} for a valid bearer token', async () => {
    const { username, accessToken, sub } = await loggedInUser(t);
    const response = await me(t.server, accessToken).expect(200);
    expect(response.body).toEqual({ id: sub, username, roles: [] });
  });

  it('carries sub, sid, jti, iat, exp, iss, aud, roles, auth_time and amr claims, a kid, and exp - iat = ACCESS_TOKEN_TTL', async () => {
    const { username } = await register(t.server);
    const before = Math.floor(Date.now() / 1000);
    const { accessToken, response } = await login(t.server, username);
    const after = Math.ceil(Date.now() / 1000);

    const { header, payload } = decodeJwt(accessToken);
    expect(header).toMatchObject({ alg: expect.stringMatching(/^(HS|RS|ES|PS)\d{3}$/), kid: expect.any(String) });
    expect(payload).toEqual({
      sub: expect.any(String),
      sid: expect.any(String),
      jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
      iat: expect.any(Number),
      exp: expect.any(Number),
      iss: ISSUER,
      // JWT_AUDIENCE defaults to the issuer.
      aud: ISSUER,
      roles: [],
      auth_time: expect.any(Number),
      amr: ['pwd'],
    });
    expect(payload.exp as number).toBe((payload.iat as number) + 600);
    expect(response.body.expires_in).toBe(600);
    expect(payload.iat as number).toBeGreaterThanOrEqual(before);
    expect(payload.iat as number).toBeLessThanOrEqual(after);
    expect(payload.auth_time as number).toBeGreaterThanOrEqual(before);
    expect(payload.auth_time as number).toBeLessThanOrEqual(payload.iat as number);

    // sub is the user's id, sid names a live session of that user.
    const whoami = await me(t.server, accessToken).expect(200);
    expect(payload.sub).toBe(whoami.body.id);
    const session = await sessionRow(t, payload.sid as string);
    expect(session).toMatchObject({ id: payload.sid, user_id: payload.sub, revoked_at: null });
  });

  it('gives every token its own jti and every login its own sid', async () => {
    const { username } = await register(t.server);
    const a = decodeJwt((await login(t.server, username)).accessToken).payload;
    const b = decodeJwt((await login(t.server, username)).accessToken).payload;
    expect(a.sub).toBe(b.sub);
    expect(a.jti).not.toBe(b.jti);
    expect(a.sid).not.toBe(b.sid);
  });

  it('answers a request without a token with 401 and a challenge that has no error parameter', async () => {
    const response = await me(t.server);
    expectErrorBody(response, 401, 'Unauthorized');
    expect(response.headers['www-authenticate']).toMatch(/^Bearer realm="[^"]+"$/);
    expect(response.headers['www-authenticate']).not.toContain('error=');
  });

  it('treats a non-Bearer Authorization header as no token (no error parameter)', async () => {
    const response = await request(t.server).get('/auth/me').set('Authorization', 'Basic dXNlcjpwYXNz');
    expectErrorBody(response, 401, 'Unauthorized');
    expect(response.headers['www-authenticate']).toMatch(REALM);
    expect(response.headers['www-authenticate']).not.toContain('error=');
  });

  it('rejects garbage and truncated tokens with invalid_token', async () => {
    const { accessToken } = await loggedInUser(t);
    expectInvalidToken(await me(t.server, 'not-a-jwt'));
    expectInvalidToken(await me(t.server, accessToken.split('.').slice(0, 2).join('.')));
    expectInvalidToken(await me(t.server, `${accessToken}x`));
  });

  it('rejects a token whose signature has one character flipped', async () => {
    const { accessToken } = await loggedInUser(t);
    const [h, p, s] = accessToken.split('.');
    // A middle character: the last one of a base64url signature may carry only padding bits.
    const i = 10;
    const flipped = `${s.slice(0, i)}${s[i] === 'A' ? 'B' : 'A'}${s.slice(i + 1)}`;
    expect(flipped).not.toBe(s);
    await me(t.server, accessToken).expect(200);
    expectInvalidToken(await me(t.server, `${h}.${p}.${flipped}`));
  });

  it('rejects a token whose payload was changed (another sub) under the original signature', async () => {
    const victim = await loggedInUser(t);
    const attacker = await loggedInUser(t);
    const [h, , s] = attacker.accessToken.split('.');
    const payload = { ...decodeJwt(attacker.accessToken).payload, sub: victim.sub };
    const tampered = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
    expectInvalidToken(await me(t.server, tampered));
  });

  it('rejects alg "none" and HS256 tokens signed with a key of our choosing, under the real kid', async () => {
    const { accessToken, header } = await loggedInUser(t);
    const { payload } = decodeJwt(accessToken);
    expectInvalidToken(await me(t.server, forgeJwt({ ...header, alg: 'none' }, payload)));
    expectInvalidToken(await me(t.server, forgeJwt({ ...header, alg: 'HS256' }, payload, randomBytes(32))));
  });
});

/**
 * Tokens forged by hand with node:crypto HMAC. The app signs with a known HS256 secret, so a
 * forged token can differ from a valid one in exactly one way; the first test is the control
 * that shows the forging itself is right.
 */
describe('hand-forged HS256 access tokens on GET /auth/me (e2e)', () => {
  const secret = randomBytes(48).toString('base64url');
  let hs: TestApp;
  /** The header the server puts on its tokens (alg, typ, kid), copied into forged ones. */
  let header: Record<string, unknown>;

  beforeAll(async () => {
    hs = await createTestApp({ JWT_ALG: 'HS256', JWT_SECRET: secret });
    header = (await loggedInUser(hs)).header;
  });
  afterAll(async () => {
    await hs.close();
  });

  /** Claims the server would issue for this user and session, valid for a minute. */
  function claimsFor(sub: string, sid: string, overrides: Record<string, unknown> = {}) {
    const now = Math.floor(Date.now() / 1000);
    return { sid, sub, iss: ISSUER, aud: ISSUER, jti: randomUUID(), iat: now, exp: now + 60, ...overrides };
  }

  it('signs with HS256 and a kid, and accepts a token forged with the secret and correct claims (control)', async () => {
    expect(header).toMatchObject({ alg: 'HS256', kid: expect.any(String) });
    const { sub, sid, username } = await loggedInUser(hs);
    const token = forgeJwt(header, claimsFor(sub, sid), secret);
    const response = await me(hs.server, token).expect(200);
    expect(response.body).toEqual({ id: sub, username, roles: [] });
  });

  it('rejects alg "none" (unsigned, or with the real signature attached), with or without a kid', async () => {
    const { sub, sid } = await loggedInUser(hs);
    const none = { ...header, alg: 'none' };
    const noKid = { ...none, kid: undefined };
    expectInvalidToken(await me(hs.server, forgeJwt(none, claimsFor(sub, sid))));
    expectInvalidToken(await me(hs.server, forgeJwt(noKid, claimsFor(sub, sid))));
    expectInvalidToken(await me(hs.server, forgeJwt(none, claimsFor(sub, sid), secret)));
  });

  it('rejects a token signed with a different key under the real kid', async () => {
    const { sub, sid } = await loggedInUser(hs);
    expectInvalidToken(
      await me(hs.server, forgeJwt(header, claimsFor(sub, sid), randomBytes(48).toString('base64url'))),
    );
  });

  it('rejects a token with an unknown kid or no kid, even when signed with the real secret', async () => {
    const { sub, sid } = await loggedInUser(hs);
    expectInvalidToken(await me(hs.server, forgeJwt({ ...header, kid: randomUUID() }, claimsFor(sub, sid), secret)));
    expectInvalidToken(await me(hs.server, forgeJwt({ ...header, kid: undefined }, claimsFor(sub, sid), secret)));
  });

  it('rejects a token for another audience, or with no audience, even when signed with the real secret', async () => {
    const { sub, sid } = await loggedInUser(hs);
    expectInvalidToken(
      await me(hs.server, forgeJwt(header, claimsFor(sub, sid, { aud: 'https://other-api.example' }), secret)),
    );
    expectInvalidToken(await me(hs.server, forgeJwt(header, claimsFor(sub, sid, { aud: undefined }), secret)));
  });

  it('rejects another HMAC algorithm (HS512) with the real secret', async () => {
    const { sub, sid } = await loggedInUser(hs);
    expectInvalidToken(
      await me(hs.server, forgeJwt({ ...header, alg: 'HS512' }, claimsFor(sub, sid), secret, 'sha512')),
    );
  });

  it('rejects a wrong or missing issuer', async () => {
    const { sub, sid } = await loggedInUser(hs);
    expectInvalidToken(await me(hs.server, forgeJwt(header, claimsFor(sub, sid, { iss: 'http://evil.test' }), secret)));
    expectInvalidToken(await me(hs.server, forgeJwt(header, claimsFor(sub, sid, { iss: `${ISSUER}.evil` }), secret)));
    expectInvalidToken(await me(hs.server, forgeJwt(header, claimsFor(sub, sid, { iss: undefined }), secret)));
  });

  it('rejects an expired token and a not-yet-valid (nbf) token', async () => {
    const { sub, sid } = await loggedInUser(hs);
    const now = Math.floor(Date.now() / 1000);
    expectInvalidToken(
      await me(hs.server, forgeJwt(header, claimsFor(sub, sid, { iat: now - 120, exp: now - 60 }), secret)),
    );
    expectInvalidToken(await me(hs.server, forgeJwt(header, claimsFor(sub, sid, { nbf: now + 600 }), secret)));
  });

  it('rejects a correctly signed token that lacks sid or jti, or has a non-string sub', async () => {
    const { sub, sid } = await loggedInUser(hs);
    expectInvalidToken(await me(hs.server, forgeJwt(header, claimsFor(sub, sid, { sid: undefined }), secret)));
    expectInvalidToken(await me(hs.server, forgeJwt(header, claimsFor(sub, sid, { jti: undefined }), secret)));
    expectInvalidToken(await me(hs.server, forgeJwt(header, claimsFor(sub, sid, { sub: 42 }), secret)));
  });

  it('answers 401 invalid_token for a valid signature naming a user that does not exist', async () => {
    const { sid } = await loggedInUser(hs);
    expectInvalidToken(await me(hs.server, forgeJwt(header, claimsFor(randomUUID(), sid), secret)));
  });
});
