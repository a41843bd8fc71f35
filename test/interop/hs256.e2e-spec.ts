import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jwtVerify } from 'jose';
import { ConfigError, loadConfig } from '../../src/config/env.validation.js';
import { KeysService } from '../../src/keys/keys.service.js';
import { decodeJwt, forgeJwt, login, me } from '../utils/http.js';
import { fetchJwks, rejectionOf, startListeningApp, type ListeningApp } from './interop-helpers.js';

const SECRET = 'Zr8v1Qk2Lw9xT4bN7cH3mJ6pY0sF5gD8aE2uK1oR';

/** HS256 is an explicit opt-in: a shared secret, so nothing can be published. */
describe('JWT_ALG=HS256 with a generated key', () => {
  let s: ListeningApp;

  beforeAll(async () => {
    s = await startListeningApp({ JWT_ALG: 'HS256' });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('publishes an empty JWKS; its tokens are HS256 and work on /auth/me', async () => {
    const { jwks } = await fetchJwks(s.issuer);
    expect(jwks).toEqual({ keys: [] });

    const { accessToken, username } = await login(s.t.server);
    expect(decodeJwt(accessToken).header).toEqual({ alg: 'HS256', typ: 'at+jwt', kid: expect.any(String) });
    expect((await me(s.t.server, accessToken).expect(200)).body).toEqual({
      id: expect.any(String),
      username,
      roles: [],
    });
  });
});

describe('JWT_ALG=HS256 with JWT_SECRET', () => {
  let s: ListeningApp;

  beforeAll(async () => {
    s = await startListeningApp({ JWT_ALG: 'HS256', JWT_SECRET: SECRET });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('publishes an empty JWKS; a resource server holding the secret verifies the tokens with jose', async () => {
    expect((await fetchJwks(s.issuer)).jwks).toEqual({ keys: [] });

    const { accessToken, username } = await login(s.t.server);
    const { payload, protectedHeader } = await jwtVerify(accessToken, new TextEncoder().encode(SECRET), {
      issuer: s.issuer,
      typ: 'at+jwt',
      algorithms: ['HS256'],
    });
    expect(protectedHeader.alg).toBe('HS256');
    const whoami = await me(s.t.server, accessToken).expect(200);
    expect(whoami.body).toEqual({ id: payload.sub, username, roles: [] });
  });

  it('rejects tokens signed with another secret, and refuses key rotation', async () => {
    const { accessToken } = await login(s.t.server);
    const { header, payload } = decodeJwt(accessToken);
    const wrongSecret = forgeJwt(header, payload, `${SECRET}-but-not-quite`);
    await me(s.t.server, wrongSecret).expect(401);
    // And the genuine one, re-signed with the right secret by hand, is accepted: the secret is all there is.
    await me(s.t.server, forgeJwt(header, payload, SECRET)).expect(200);

    const error = await rejectionOf(s.t.app.get(KeysService).rotate());
    expect(String(error.message)).toContain('JWT_SECRET');
  });
});

describe('JWT_SECRET configuration', () => {
  const base = { NODE_ENV: 'test', DATABASE_URL: 'sqlite::memory:' };

  it('throws a ConfigError for JWT_SECRET without JWT_ALG=HS256', () => {
    for (const env of [
      { JWT_SECRET: SECRET },
      { JWT_SECRET: SECRET, JWT_ALG: 'RS256' },
      { JWT_SECRET: SECRET, JWT_ALG: 'ES256' },
    ]) {
      let thrown: unknown;
      try {
        loadConfig({ ...base, ...env });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ConfigError);
      expect((thrown as ConfigError).message).toContain('JWT_ALG=HS256');
    }
  });

  it('accepts JWT_SECRET together with JWT_ALG=HS256', () => {
    expect(loadConfig({ ...base, JWT_ALG: 'HS256', JWT_SECRET: SECRET }).auth).toMatchObject({
      jwtAlg: 'HS256',
      jwtSecret: SECRET,
    });
  });
});
