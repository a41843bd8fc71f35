import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { KeysService } from '../../src/keys/keys.service.js';
import { sleep } from '../utils/http.js';
import { fetchJwks, jwtHeader, loginOverHttp, meOverHttp, rejectionOf, startListeningApp, type ListeningApp } from './interop-helpers.js';

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
    const verify = (token: string, jwks = cachedJwks) => jwtVerify(token, jwks, { issuer: s.issuer, typ: 'at+jwt', algorithms: ['RS256'] });
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
    const refreshed = await fetch(`${s.issuer}/auth/refresh`, { method: 'POST', headers: { cookie: `refresh_token=${before.refreshCookie}` } });
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

  it('drops the retired kid from the JWKS once every token it signed has expired', async () => {
    const before = await loginOverHttp(s.issuer);
    const oldKid = jwtHeader(before.accessToken).kid as string;
    const rotated = await s.t.app.get(KeysService).rotate();
    expect(await kids(s.issuer)).toEqual([rotated.kid, oldKid]);

    await sleep(2200);

    expect(await kids(s.issuer)).toEqual([rotated.kid]);
    // A resource server fetching now has no key for the old kid at all (the lookup fails before any exp check).
    const fresh = createRemoteJWKSet(new URL(`${s.issuer}/.well-known/jwks.json`));
    const error = await rejectionOf(jwtVerify(before.accessToken, fresh, { issuer: s.issuer, algorithms: ['RS256'] }));
    expect(error.code).toBe('ERR_JWKS_NO_MATCHING_KEY');
    expect((await meOverHttp(s.issuer, before.accessToken)).status).toBe(401);

    const after = await loginOverHttp(s.issuer);
    expect(jwtHeader(after.accessToken).kid).toBe(rotated.kid);
    await expect(jwtVerify(after.accessToken, fresh, { issuer: s.issuer, typ: 'at+jwt', algorithms: ['RS256'] })).resolves.toBeDefined();
  });
});
