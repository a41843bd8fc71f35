import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { ConfigModule } from '@nestjs/config';
import { Test, type TestingModule } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import * as jose from 'jose';
import { createRemoteJWKSet, importSPKI, jwtVerify } from 'jose';
import { loadConfig } from '../../src/config/env.validation.js';
import { buildDataSourceOptions } from '../../src/database/data-source-options.js';
import { DatabaseModule } from '../../src/database/database.module.js';
import { KeysModule } from '../../src/keys/keys.module.js';
import { KeysService } from '../../src/keys/keys.service.js';
import { tempSqliteUrl } from '../utils/create-test-app.js';
import { forgeJwt, sleep } from '../utils/http.js';
import {
  fetchJwks,
  jwtHeader,
  loginOverHttp,
  meOverHttp,
  rejectionOf,
  startListeningApp,
  type ListeningApp,
} from './interop-helpers.js';

// jwks-rsa@4 is CommonJS and requires the ESM-only jose@6: hand jest's CJS registry the same jose
// module (see express-jwt.e2e-spec.ts).
jest.mock('jose', () => jose);
const { default: jwksRsa } = await import('jwks-rsa');

const kids = async (issuer: string) => (await fetchJwks(issuer)).jwks.keys.map((key) => key.kid);

/** Signing-key rotation as seen by resource servers that cache our JWKS. */
describe('key rotation (default ACCESS_TOKEN_TTL)', () => {
  let s: ListeningApp;

  beforeAll(async () => {
    s = await startListeningApp();
  });
  afterAll(async () => {
    await s?.close();
  });

  it('keeps old tokens verifying, signs new ones with the new kid, and publishes both kids', async () => {
    const before = await loginOverHttp(s.issuer);
    const oldKid = jwtHeader(before.accessToken).kid as string;
    expect(await kids(s.issuer)).toEqual([oldKid]);

    // A resource server that fetched the JWKS before the rotation; no cooldown, so an unknown
    // kid makes it refetch (jose's default would wait 30 s).
    const cachedJwks = createRemoteJWKSet(new URL(`${s.issuer}/.well-known/jwks.json`), { cooldownDuration: 0 });
    const verify = (token: string, jwks = cachedJwks) =>
      jwtVerify(token, jwks, { issuer: s.issuer, typ: 'at+jwt', algorithms: ['RS256'] });
    await verify(before.accessToken);

    const rotated = await s.t.app.get(KeysService).rotate();
    expect(rotated.kid).not.toBe(oldKid);
    // Newest first; the retired key stays published while its tokens can still be valid.
    expect(await kids(s.issuer)).toEqual([rotated.kid, oldKid]);

    // Token A: still good, for the cached set, a fresh set, and the service.
    await expect(verify(before.accessToken)).resolves.toMatchObject({ protectedHeader: { kid: oldKid } });
    await expect(
      verify(before.accessToken, createRemoteJWKSet(new URL(`${s.issuer}/.well-known/jwks.json`))),
    ).resolves.toMatchObject({ protectedHeader: { kid: oldKid } });
    expect((await meOverHttp(s.issuer, before.accessToken)).status).toBe(200);

    // A new login gets the new kid; the cached set learns it by refetching.
    const after = await loginOverHttp(s.issuer);
    expect(jwtHeader(after.accessToken).kid).toBe(rotated.kid);
    await expect(verify(after.accessToken)).resolves.toMatchObject({ protectedHeader: { kid: rotated.kid } });
    expect((await meOverHttp(s.issuer, after.accessToken)).status).toBe(200);

    // Refreshing a pre-rotation session also signs with the new key.
    const refreshed = await fetch(`${s.issuer}/auth/refresh`, {
      method: 'POST',
      headers: { cookie: `refresh_token=${before.refreshCookie}` },
    });
    expect(refreshed.status).toBe(200);
    const { access_token } = (await refreshed.json()) as { access_token: string };
    expect(jwtHeader(access_token).kid).toBe(rotated.kid);
  });
});

describe('key rotation (ACCESS_TOKEN_TTL=2s)', () => {
  let s: ListeningApp;

  beforeAll(async () => {
    s = await startListeningApp({ ACCESS_TOKEN_TTL: '2s' });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('refuses the old tokens at their exp, keeps the retired kid while a late instance may have signed with it, then drops it', async () => {
    const before = await loginOverHttp(s.issuer);
    const oldKid = jwtHeader(before.accessToken).kid as string;
    const keys = s.t.app.get(KeysService);
    const rotated = await keys.rotate();
    expect(await kids(s.issuer)).toEqual([rotated.kid, oldKid]);

    await sleep(2200);

    // Past ACCESS_TOKEN_TTL the kid is still published: an instance that had not reloaded yet may
    // have signed with it up to SIGNING_KEY_CONFIRMATION_MS after the retirement. Its tokens
    // are refused all the same, on their own exp.
    expect(await kids(s.issuer)).toEqual([rotated.kid, oldKid]);
    const fresh = createRemoteJWKSet(new URL(`${s.issuer}/.well-known/jwks.json`));
    const error = await rejectionOf(jwtVerify(before.accessToken, fresh, { issuer: s.issuer, algorithms: ['RS256'] }));
    expect(error.code).toBe('ERR_JWT_EXPIRED');
    expect((await meOverHttp(s.issuer, before.accessToken)).status).toBe(401);
    // Gone once no instance can hold a live token signed with it.
    expect(keys.jwks(Date.now() + keys.retiredKeyLifetimeMs).keys.map((key) => key.kid)).toEqual([rotated.kid]);

    const after = await loginOverHttp(s.issuer);
    expect(jwtHeader(after.accessToken).kid).toBe(rotated.kid);
    await expect(
      jwtVerify(after.accessToken, fresh, { issuer: s.issuer, typ: 'at+jwt', algorithms: ['RS256'] }),
    ).resolves.toBeDefined();
  });
});

/**
 * Issue 10 item 8: a rotation made by another process is picked up by a running instance only at
 * its next reload; until then it keeps signing with the retired key. Such a token must verify
 * until its own exp: at that instance, at the rotating one, in the JWKS, at a jwks-rsa resource
 * server, whatever the reload timing (here: the instance reloads at the worst moment, just after
 * signing, and the checks run after ACCESS_TOKEN_TTL has passed since the retirement).
 */
describe('key rotation by another process, while an instance has not reloaded yet (ACCESS_TOKEN_TTL=3s)', () => {
  const db = tempSqliteUrl();
  const env = { DATABASE_URL: db.url, ACCESS_TOKEN_TTL: '3s' };
  let s: ListeningApp;
  /** Another app context on the same database, as `npm run keys:rotate` makes (without the HTTP app). */
  let other: TestingModule;

  beforeAll(async () => {
    s = await startListeningApp(env);
    const config = loadConfig({ NODE_ENV: 'test', ARGON2_MEMORY_KIB: '1024', ARGON2_ITERATIONS: '1', ...env });
    other = await Test.createTestingModule({
      imports: [
        ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: [() => ({ ...config })] }),
        TypeOrmModule.forRoot(buildDataSourceOptions(config.database)),
        DatabaseModule,
        KeysModule,
      ],
    }).compile();
    other.useLogger(false);
    await other.init();
  });
  afterAll(async () => {
    await other?.close();
    await s?.close();
    await db.cleanup();
  });

  it('a token signed with the retired key in the reload gap verifies until its own exp, everywhere', async () => {
    const rotator = other.get(KeysService);
    const oldKid = s.t.app.get(KeysService).currentSigningKey().kid;
    const rotated = await rotator.rotate();
    const retiredAt = Date.now();

    // This instance reloads every 10 s from its start; 2 s after the rotation it has not yet.
    await sleep(2000);
    const late = await loginOverHttp(s.issuer);
    expect(jwtHeader(late.accessToken).kid).toBe(oldKid);
    const exp = (JSON.parse(Buffer.from(late.accessToken.split('.')[1], 'base64url').toString()) as { exp: number })
      .exp;

    // Now it reloads (an unknown kid makes it), learning the key was retired 2 s ago...
    const unknownKid = forgeJwt({ alg: 'RS256', typ: 'at+jwt', kid: randomUUID() }, { sub: 'x' });
    expect((await meOverHttp(s.issuer, unknownKid)).status).toBe(401);
    expect(jwtHeader((await loginOverHttp(s.issuer)).accessToken).kid).toBe(rotated.kid);

    // ...and ACCESS_TOKEN_TTL after the retirement, the late token still has time left.
    await sleep(Math.max(0, retiredAt + 3000 + 100 - Date.now()));
    const checkedAt = Date.now();
    expect(checkedAt).toBeLessThan(exp * 1000);
    expect((await meOverHttp(s.issuer, late.accessToken)).status).toBe(200);
    expect(await kids(s.issuer)).toEqual([rotated.kid, oldKid]);
    expect(rotator.jwks(checkedAt).keys.map((key) => key.kid)).toEqual([rotated.kid, oldKid]);
    await expect(rotator.verificationKey(oldKid, 'RS256')).resolves.toMatchObject({ kid: oldKid });

    // A jwks-rsa resource server fetching the keys now (no cache) finds the kid and accepts the token.
    const signingKey = await jwksRsa({ jwksUri: `${s.issuer}/.well-known/jwks.json`, cache: false }).getSigningKey(
      oldKid,
    );
    const { payload } = await jwtVerify(late.accessToken, await importSPKI(signingKey.getPublicKey(), 'RS256'), {
      algorithms: ['RS256'],
      issuer: s.issuer,
      currentDate: new Date(checkedAt),
    });
    expect(payload.sub).toBeDefined();

    // At its exp it is refused like any other.
    await sleep(exp * 1000 - Date.now() + 100);
    expect((await meOverHttp(s.issuer, late.accessToken)).status).toBe(401);
  });
});
