import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { SignJWT } from 'jose';
import { createTokenVerifier, TokenError, type TokenVerifier, type TokenVerifierOptions } from '../src/index.js';
import { FakeAuthServer, rejectionOf } from './fake-auth-server.js';

describe('createTokenVerifier: local verification', () => {
  let fake: FakeAuthServer;
  let verifier: TokenVerifier;

  beforeEach(async () => {
    fake = await FakeAuthServer.start();
    verifier = createTokenVerifier(fake.verifierOptions());
    await verifier.ready();
  });
  afterEach(async () => {
    await verifier?.close();
    await fake?.close();
  });

  async function refusal(token: string): Promise<TokenError> {
    const error = await rejectionOf(verifier.verify(token));
    expect(error).toBeInstanceOf(TokenError);
    return error as unknown as TokenError;
  }

  it('returns the principal of a valid token: sub, sid, roles, scopes, username, every claim', async () => {
    const token = await fake.sign({
      sub: 'u1',
      sid: 's1',
      roles: ['admin', 'editor'],
      scope: 'orders:read  orders:write',
      preferred_username: 'alice',
    });
    const principal = await verifier.verify(token);
    expect(principal).toEqual({
      sub: 'u1',
      sid: 's1',
      username: 'alice',
      roles: ['admin', 'editor'],
      scopes: ['orders:read', 'orders:write'],
      claims: expect.objectContaining({ sub: 'u1', sid: 's1', iss: fake.issuer, aud: fake.audience }),
    });
    expect(Object.isFrozen(principal) && Object.isFrozen(principal.roles) && Object.isFrozen(principal.claims)).toBe(
      true,
    );
  });

  it('gives no roles and no scopes when the token has none, and no username', async () => {
    const token = await fake.sign({ roles: undefined });
    const principal = await verifier.verify(token);
    expect(principal.roles).toEqual([]);
    expect(principal.scopes).toEqual([]);
    expect('username' in principal).toBe(false);
  });

  it('answers a known token from its cache: the same principal, no second JWKS look', async () => {
    const token = await fake.sign();
    const first = await verifier.verify(token);
    const jwksRequests = fake.jwksRequests;
    expect(await verifier.verify(token)).toBe(first);
    expect(fake.jwksRequests).toBe(jwksRequests);
  });

  it('answers a known token synchronously (authenticateKnown) only when the full check would pass', async () => {
    const token = await fake.sign({ sub: 'u1', sid: 's-known', roles: ['support'], scope: 'orders:read' });
    // Never seen: the full check must run.
    expect(verifier.authenticateKnown(`Bearer ${token}`)).toBeUndefined();
    const principal = await verifier.authenticate(`Bearer ${token}`);
    expect(verifier.authenticateKnown(`Bearer ${token}`)).toBe(principal);
    expect(verifier.authenticateKnown(`Bearer ${token}`, { roles: ['support'], scopes: ['orders:read'] })).toBe(
      principal,
    );
    // Requirements not met, no header, another scheme: undefined, so authenticate() gives the error.
    expect(verifier.authenticateKnown(`Bearer ${token}`, { roles: ['admin'] })).toBeUndefined();
    expect(verifier.authenticateKnown(`Bearer ${token}`, { scopes: ['orders:write'] })).toBeUndefined();
    expect(verifier.authenticateKnown(undefined)).toBeUndefined();
    expect(verifier.authenticateKnown(`Basic ${token}`)).toBeUndefined();
    // Revoked on the feed: no longer known-good.
    fake.revokeSession('s-known', 'u1');
    for (let i = 0; i < 100 && verifier.authenticateKnown(`Bearer ${token}`); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(verifier.authenticateKnown(`Bearer ${token}`)).toBeUndefined();
    expect((await rejectionOf(verifier.authenticate(`Bearer ${token}`))) as unknown).toBeInstanceOf(TokenError);
  });

  it('refuses an expired token, also once it was cached', async () => {
    const expired = await refusal(await fake.sign({}, { expiresIn: -10 }));
    expect({ status: expired.status, code: expired.code, reason: expired.reason }).toEqual({
      status: 401,
      code: 'invalid_token',
      reason: 'expired',
    });
    expect(expired.wwwAuthenticate).toBe('Bearer error="invalid_token", error_description="The access token expired"');

    // A cached token counts as expired from exp + clockTolerance (5 s) on, not a moment earlier.
    const token = await fake.sign({}, { expiresIn: 60 });
    // The token's own exp: a second can tick between signing and reading the clock here.
    const { exp } = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { exp: number };
    await expect(verifier.verify(token)).resolves.toMatchObject({ sub: 'user-1' });
    const clock = jest.spyOn(Date, 'now');
    try {
      clock.mockReturnValue((exp + 5) * 1000 - 1);
      await expect(verifier.verify(token)).resolves.toMatchObject({ sub: 'user-1' });
      clock.mockReturnValue((exp + 5) * 1000);
      expect((await rejectionOf(verifier.verify(token))).reason).toBe('expired');
    } finally {
      clock.mockRestore();
    }
  });

  it('refuses a token for another issuer or another audience', async () => {
    expect((await refusal(await fake.sign({ iss: 'https://evil.test' }))).reason).toBe('invalid');
    expect((await refusal(await fake.sign({ aud: 'https://other-api.test' }))).reason).toBe('invalid');
  });

  it('refuses a JWT that is not an access token (typ other than at+jwt)', async () => {
    expect((await refusal(await fake.sign({}, { typ: 'JWT' }))).reason).toBe('invalid');
    // RFC 9068 allows the long form.
    await expect(verifier.verify(await fake.sign({}, { typ: 'application/at+jwt' }))).resolves.toMatchObject({
      sub: 'user-1',
    });
  });

  it('refuses an algorithm that is not pinned, even with a published key of that type', async () => {
    const es256 = await fake.addKey('ES256');
    const token = await fake.sign({}, { key: es256 });
    expect((await refusal(token)).reason).toBe('invalid');

    const both = createTokenVerifier({ ...fake.verifierOptions(), algorithms: ['RS256', 'ES256'] });
    try {
      await both.ready();
      await expect(both.verify(token)).resolves.toMatchObject({ sub: 'user-1' });
    } finally {
      await both.close();
    }
  });

  it('refuses HS256 signed with the public key (the classic confusion) and alg none', async () => {
    const jwk = fake.keys[0].publicJwk;
    const secret = new TextEncoder().encode(JSON.stringify(jwk));
    const hs = await new SignJWT({ sub: 'u', sid: 's', jti: 'j', iss: fake.issuer, aud: fake.audience })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: fake.keys[0].kid })
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(secret);
    expect((await refusal(hs)).reason).toBe('invalid');
    const [, payload] = hs.split('.');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${payload}.`;
    expect((await refusal(none)).reason).toBe('malformed');
  });

  it('refuses a token whose payload was changed after signing', async () => {
    const token = await fake.sign({ sub: 'u1' });
    const [header, , signature] = token.split('.');
    const forged = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()), sub: 'admin' }),
    ).toString('base64url');
    expect((await refusal(`${header}.${forged}.${signature}`)).reason).toBe('invalid');
  });

  it('refuses a second spelling of a valid token (spare base64url bits), before and after caching the first', async () => {
    const token = await fake.sign();
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const twin = token.slice(0, -1) + alphabet[alphabet.indexOf(token.at(-1)!) ^ 1];
    expect(Buffer.from(twin.split('.')[2], 'base64url').equals(Buffer.from(token.split('.')[2], 'base64url'))).toBe(
      true,
    );
    expect((await refusal(twin)).reason).toBe('malformed');
    await verifier.verify(token);
    expect((await refusal(twin)).reason).toBe('malformed');
  });

  it('refuses tokens missing a required claim (sid)', async () => {
    expect((await refusal(await fake.sign({ sid: undefined }))).reason).toBe('invalid');
  });

  it('reloads the JWKS for an unknown kid (a rotated key) and then accepts it', async () => {
    const rotated = await fake.addKey('RS256', false);
    const token = await fake.sign({}, { key: rotated });
    // Not published yet: a reload happens, finds nothing, and the token is refused.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const before = fake.jwksRequests;
    expect((await refusal(token)).reason).toBe('invalid');
    expect(fake.jwksRequests).toBe(before + 1);

    fake.published.add(rotated.kid);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await expect(verifier.verify(token)).resolves.toMatchObject({ sub: 'user-1' });
    expect(fake.jwksRequests).toBe(before + 2);
  });

  it('forgets cached tokens of a key the auth server stopped publishing, at the next reload', async () => {
    const retired = await fake.sign();
    await verifier.verify(retired);
    const next = await fake.addKey('RS256');
    fake.published.delete(fake.keys[0].kid);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    // A token of the new key triggers the reload, which no longer lists the old key.
    await expect(verifier.verify(await fake.sign({}, { key: next }))).resolves.toMatchObject({ sub: 'user-1' });
    expect((await refusal(retired)).reason).toBe('invalid');
  });

  it('reloads the JWKS at most once a second however many unknown kids arrive', async () => {
    const strangers = await Promise.all([1, 2, 3].map(() => fake.addKey('RS256', false)));
    const tokens = await Promise.all(strangers.flatMap((key) => [fake.sign({}, { key }), fake.sign({}, { key })]));
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const before = fake.jwksRequests;
    await Promise.all(tokens.map((token) => rejectionOf(verifier.verify(token))));
    for (const token of tokens) await rejectionOf(verifier.verify(token));
    // One reload for the burst (joined by all), none for the repeats within the second... unless
    // this machine took over a second for the loop, which allows one more.
    expect(fake.jwksRequests - before).toBeGreaterThanOrEqual(1);
    expect(fake.jwksRequests - before).toBeLessThanOrEqual(2);
  });

  it('refuses garbage with 401 invalid_token, never anything else', async () => {
    for (const garbage of ['', 'x', 'a.b.c', '...', 'eyJ.eyJ.sig', `${'a'.repeat(10_000)}.b.c`]) {
      const error = await refusal(garbage);
      expect([error.status, error.code]).toEqual([401, 'invalid_token']);
    }
  });
});

describe('createTokenVerifier: options', () => {
  const base: TokenVerifierOptions = {
    issuer: 'https://auth.test',
    audience: 'a',
    clientId: 'c',
    clientSecret: 's',
    log: false,
  };

  it('fails at creation with one clear line on a bad option', () => {
    const cases: [Partial<TokenVerifierOptions>, RegExp][] = [
      [{ issuer: 'auth.test' }, /issuer must be an absolute http\(s\) URL/],
      [{ audience: [] }, /audience/],
      [{ clientSecret: '' }, /clientSecret/],
      [{ algorithms: ['HS256'] }, /algorithms must be a non-empty subset/],
      [{ algorithms: ['none'] }, /algorithms/],
      [{ maxStaleness: 0 }, /maxStaleness must be a positive number/],
      [{ clockTolerance: -1 }, /clockTolerance/],
      [{ whenStale: 'accept' as never }, /whenStale/],
      [{ resource: 'api' }, /resource/],
    ];
    for (const [patch, message] of cases) {
      expect(() => createTokenVerifier({ ...base, ...patch })).toThrow(message);
    }
  });
});
