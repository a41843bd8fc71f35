import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import {
  fetchJwks,
  flipSignatureChar,
  loginOverHttp,
  meOverHttp,
  PRIVATE_JWK_MEMBERS,
  rejectionOf,
  startListeningApp,
  tamperPayload,
  type ListeningApp,
} from './interop-helpers.js';

/**
 * A third-party resource server that knows only our issuer URL: it fetches our JWKS with jose
 * and verifies access tokens the way RFC 9068 asks (issuer, typ at+jwt, pinned algorithm).
 */
describe('jose as a resource server (RS256, the default)', () => {
  let s: ListeningApp;

  beforeAll(async () => {
    s = await startListeningApp();
  });
  afterAll(async () => {
    await s?.close();
  });

  const remoteJwks = () => createRemoteJWKSet(new URL(`${s.issuer}/.well-known/jwks.json`));

  it('verifies an access token from /auth/login through the published JWKS', async () => {
    const session = await loginOverHttp(s.issuer);
    const { jwks } = await fetchJwks(s.issuer);

    const { payload, protectedHeader } = await jwtVerify(session.accessToken, remoteJwks(), {
      issuer: s.issuer,
      typ: 'at+jwt',
      algorithms: ['RS256'],
    });

    expect(protectedHeader).toEqual({ alg: 'RS256', typ: 'at+jwt', kid: jwks.keys[0].kid });
    const me = await meOverHttp(s.issuer, session.accessToken);
    expect(me).toEqual({ status: 200, body: { id: expect.any(String), username: session.username, roles: [] } });
    expect(payload).toEqual({
      sub: (me.body as { id: string }).id,
      sid: expect.any(String),
      jti: expect.any(String),
      iat: expect.any(Number),
      exp: expect.any(Number),
      iss: s.issuer,
      aud: s.issuer,
      roles: [],
      auth_time: expect.any(Number),
      amr: ['pwd'],
    });
    expect(payload.exp! - payload.iat!).toBe(3600);
  });

  it('rejects a token whose payload was changed after signing, as the service itself does', async () => {
    const { accessToken } = await loginOverHttp(s.issuer);
    // The classic attack: keep a valid signature, claim to be another user.
    const other = await loginOverHttp(s.issuer);
    const otherId = ((await meOverHttp(s.issuer, other.accessToken)).body as { id: string }).id;
    const forged = tamperPayload(accessToken, { sub: otherId });

    const error = await rejectionOf(
      jwtVerify(forged, remoteJwks(), { issuer: s.issuer, typ: 'at+jwt', algorithms: ['RS256'] }),
    );
    expect(error.code).toBe('ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
    expect((await meOverHttp(s.issuer, forged)).status).toBe(401);
  });

  it('rejects a token with one signature character changed', async () => {
    const { accessToken } = await loginOverHttp(s.issuer);
    const forged = flipSignatureChar(accessToken);
    expect(forged).not.toBe(accessToken);

    const error = await rejectionOf(
      jwtVerify(forged, remoteJwks(), { issuer: s.issuer, typ: 'at+jwt', algorithms: ['RS256'] }),
    );
    expect(error.code).toBe('ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
    expect((await meOverHttp(s.issuer, forged)).status).toBe(401);
  });

  it('rejects the token when the resource server expects another issuer', async () => {
    const { accessToken } = await loginOverHttp(s.issuer);
    const error = await rejectionOf(
      jwtVerify(accessToken, remoteJwks(), {
        issuer: 'http://other-issuer.test',
        typ: 'at+jwt',
        algorithms: ['RS256'],
      }),
    );
    expect(error).toMatchObject({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'iss' });
  });

  it('rejects the token when the resource server pins another algorithm or token type', async () => {
    const { accessToken } = await loginOverHttp(s.issuer);
    const wrongAlg = await rejectionOf(
      jwtVerify(accessToken, remoteJwks(), { issuer: s.issuer, algorithms: ['ES256'] }),
    );
    expect(wrongAlg.code).toBe('ERR_JOSE_ALG_NOT_ALLOWED');
    const wrongTyp = await rejectionOf(
      jwtVerify(accessToken, remoteJwks(), { issuer: s.issuer, typ: 'JWT', algorithms: ['RS256'] }),
    );
    expect(wrongTyp).toMatchObject({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'typ' });
  });

  it('publishes only public RSA members in the JWKS, with a cacheable max-age', async () => {
    const { response, jwks } = await fetchJwks(s.issuer);

    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const cacheControl = response.headers.get('cache-control') ?? '';
    const maxAge = /(?:^|,)\s*max-age=(\d+)/.exec(cacheControl);
    expect({ cacheControl, maxAge: maxAge ? Number(maxAge[1]) > 0 : false }).toEqual({ cacheControl, maxAge: true });
    expect(cacheControl).not.toMatch(/no-store|private/);

    expect(jwks.keys).toHaveLength(1);
    for (const key of jwks.keys) {
      expect(key).toEqual({
        kty: 'RSA',
        n: expect.any(String),
        e: 'AQAB',
        kid: expect.any(String),
        alg: 'RS256',
        use: 'sig',
      });
      for (const member of PRIVATE_JWK_MEMBERS) expect(key).not.toHaveProperty(member);
    }
  });
});

describe('jose as a resource server (JWT_ALG=ES256)', () => {
  let s: ListeningApp;

  beforeAll(async () => {
    s = await startListeningApp({ JWT_ALG: 'ES256' });
  });
  afterAll(async () => {
    await s?.close();
  });

  const remoteJwks = () => createRemoteJWKSet(new URL(`${s.issuer}/.well-known/jwks.json`));

  it('publishes a P-256 EC key without private members', async () => {
    const { jwks } = await fetchJwks(s.issuer);
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toEqual({
      kty: 'EC',
      crv: 'P-256',
      x: expect.any(String),
      y: expect.any(String),
      kid: expect.any(String),
      alg: 'ES256',
      use: 'sig',
    });
    for (const member of PRIVATE_JWK_MEMBERS) expect(jwks.keys[0]).not.toHaveProperty(member);
  });

  it('verifies an ES256 access token through the JWKS and rejects a tampered one', async () => {
    const session = await loginOverHttp(s.issuer);
    const { jwks } = await fetchJwks(s.issuer);

    const { payload, protectedHeader } = await jwtVerify(session.accessToken, remoteJwks(), {
      issuer: s.issuer,
      typ: 'at+jwt',
      algorithms: ['ES256'],
    });
    expect(protectedHeader).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: jwks.keys[0].kid });
    const me = await meOverHttp(s.issuer, session.accessToken);
    expect(me.status).toBe(200);
    expect(payload.sub).toBe((me.body as { id: string }).id);

    for (const forged of [
      tamperPayload(session.accessToken, { sub: 'someone-else' }),
      flipSignatureChar(session.accessToken),
    ]) {
      const error = await rejectionOf(
        jwtVerify(forged, remoteJwks(), { issuer: s.issuer, typ: 'at+jwt', algorithms: ['ES256'] }),
      );
      expect(error.code).toBe('ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
      expect((await meOverHttp(s.issuer, forged)).status).toBe(401);
    }

    // A resource server still pinned to RS256 refuses it rather than guessing.
    const pinned = await rejectionOf(
      jwtVerify(session.accessToken, remoteJwks(), { issuer: s.issuer, algorithms: ['RS256'] }),
    );
    expect(pinned.code).toBe('ERR_JOSE_ALG_NOT_ALLOWED');
  });
});
