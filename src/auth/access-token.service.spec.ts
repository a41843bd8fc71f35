import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import type { TestingModule } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import { createTestingModule } from '../../test/utils/testing-module.js';
import { KeysModule } from '../keys/keys.module.js';
import { KeysService } from '../keys/keys.service.js';
import { UserRoleRepository } from '../users/user-role.repository.js';
import { UserRepository } from '../users/user.repository.js';
import { UsersModule } from '../users/users.module.js';
import { insertUser } from '../../test/utils/sessions-fixture.js';
import { ACCESS_TOKEN_TYPE, AccessTokenService, type AccessTokenClaims } from './access-token.service.js';
import { AccessTokenClaimsError } from './claims/access-token-claims.error.js';
import {
  ACCESS_TOKEN_CLAIMS,
  type AccessTokenClaimsContext,
  type AccessTokenClaimsProvider,
} from './claims/access-token-claims.provider.js';
import { AccessTokenClaimsService } from './claims/access-token-claims.service.js';
import { signJwt } from './jwt-signer.js';

const ISSUER = 'http://issuer.test';
const TTL_SECONDS = 60;
/** Order n of the P-256 group: (r, n − s) is the twin of the signature (r, s). */
const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

const segments = (jwt: string) => jwt.split('.');
const decode = (segment: string) =>
  JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Record<string, unknown>;

let moduleRef: TestingModule;
let service: AccessTokenService;
let keys: KeysService;

/** Signs for a session that started with a password login a minute ago. */
const sign = (userId: string, sessionId: string, sessionExpiresAt = Infinity, authTime = Date.now() - 60_000) =>
  service.sign({ userId, sessionId, sessionExpiresAt, authTime, grant: 'password' });

beforeEach(async () => {
  moduleRef = await createTestingModule({
    // ES256: the one algorithm with malleable signatures, and its keys are generated in a millisecond.
    env: { JWT_ALG: 'ES256', JWT_ISSUER: ISSUER, ACCESS_TOKEN_TTL: `${TTL_SECONDS}s` },
    imports: [KeysModule, JwtModule.register({}), UsersModule, DiscoveryModule],
    providers: [AccessTokenService, AccessTokenClaimsService],
  });
  service = moduleRef.get(AccessTokenService);
  keys = moduleRef.get(KeysService);
});

afterEach(async () => {
  await moduleRef.close();
});

/** A token signed with our current key but with the header and claims given (what an attacker cannot do, a test can). */
async function signedWithOurKey(header: Record<string, unknown>, claims: Partial<AccessTokenClaims>): Promise<string> {
  const { kid, signingKey } = keys.currentSigningKey();
  const now = Math.floor(Date.now() / 1000);
  const base = {
    sub: 'user-1',
    sid: 'session-1',
    jti: 'jti-1',
    iat: now,
    exp: now + TTL_SECONDS,
    iss: ISSUER,
    aud: ISSUER,
  };
  return signJwt({ alg: 'ES256', typ: ACCESS_TOKEN_TYPE, kid, ...header }, { ...base, ...claims }, signingKey);
}

describe('AccessTokenService.sign', () => {
  it('signs an RFC 9068 access token with the current key, naming the user and the session', async () => {
    const { token, expiresIn } = await sign('user-1', 'session-1');
    const [header, payload] = segments(token);
    expect(decode(header)).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: keys.currentSigningKey().kid });
    const claims = decode(payload);
    expect(claims).toMatchObject({ sub: 'user-1', sid: 'session-1', iss: ISSUER, aud: ISSUER });
    expect(claims.jti).toEqual(expect.stringMatching(/^[0-9a-f-]{36}$/));
    expect(claims.exp).toBe((claims.iat as number) + TTL_SECONDS);
    expect(expiresIn).toBe(TTL_SECONDS);
  });

  it('carries the roles (always, [] when none), auth_time of the session\'s login and amr ["pwd"]', async () => {
    const loggedInAt = Date.now() - 3_600_500;
    const plain = decode(segments((await sign('user-1', 'session-1', Infinity, loggedInAt)).token)[1]);
    expect(plain).toMatchObject({ roles: [], auth_time: Math.floor(loggedInAt / 1000), amr: ['pwd'] });

    const userId = await insertUser(moduleRef.get(DataSource));
    const roles = moduleRef.get(UserRoleRepository);
    await roles.grant(userId, 'support', Date.now());
    await roles.grant(userId, 'admin', Date.now());
    const claims = decode(segments((await sign(userId, 'session-2')).token)[1]);
    expect(claims.roles).toEqual(['admin', 'support']);
  });

  it('gives each token its own jti', async () => {
    const first = decode(segments((await sign('user-1', 'session-1')).token)[1]);
    const second = decode(segments((await sign('user-1', 'session-1')).token)[1]);
    expect(first.jti).not.toBe(second.jti);
  });

  it('never lets a token outlive its session (SESSION_MAX_AGE), nor expire before it was issued', async () => {
    const endsSoon = await sign('user-1', 'session-1', Date.now() + 10_000);
    expect(endsSoon.expiresIn).toBeGreaterThanOrEqual(9);
    expect(endsSoon.expiresIn).toBeLessThanOrEqual(10);
    const claims = decode(segments(endsSoon.token)[1]);
    expect((claims.exp as number) - (claims.iat as number)).toBe(endsSoon.expiresIn);

    const ended = await sign('user-1', 'session-1', Date.now() - 60_000);
    expect(ended.expiresIn).toBe(0);
    await expect(service.verify(ended.token)).resolves.toBeUndefined();
  });
});

describe("AccessTokenService.sign after the user's cut-off", () => {
  it('waits until the wall clock reaches notBefore, even when a sleep ends before it does', async () => {
    const userId = await insertUser(moduleRef.get(DataSource));
    // A whole second at least 100 ms away, as UserCutOffService sets it.
    const notBefore = (Math.floor((Date.now() + 100) / 1000) + 1) * 1000;
    await moduleRef.get(UserRepository).raiseNotBefore(userId, notBefore);
    // Node times sleeps on its monotonic clock; here the wall clock lags it by up to 20 ms just
    // as notBefore passes, so a single sleep ends while Date.now() still reads notBefore - 1.
    const wallClock = Date.now.bind(Date);
    const spy = jest.spyOn(Date, 'now').mockImplementation(() => {
      const now = wallClock();
      return now >= notBefore && now < notBefore + 20 ? notBefore - 1 : now;
    });
    try {
      const { token } = await sign(userId, 'session-1');
      expect(decode(segments(token)[1]).iat).toBe(notBefore / 1000);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('AccessTokenService.sign racing a role change', () => {
  it('re-reads the roles once iat is fixed: a change committed meanwhile is in the token, never the old roles', async () => {
    const userId = await insertUser(moduleRef.get(DataSource));
    const users = moduleRef.get(UserRepository);
    const roles = moduleRef.get(UserRoleRepository);
    await roles.grant(userId, 'admin', Date.now());
    // The change lands right after the first read, before iat is fixed (two changes in one
    // second, a slow claims provider): the same cut-off, other roles.
    const read = users.tokenSubject.bind(users);
    let reads = 0;
    const spy = jest.spyOn(users, 'tokenSubject').mockImplementation(async (id: string) => {
      const subject = await read(id);
      if (++reads === 1) await roles.revoke(userId, 'admin');
      return subject;
    });
    try {
      const { token } = await sign(userId, 'session-1');
      expect(decode(segments(token)[1]).roles).toEqual([]);
      expect(reads).toBe(3);
    } finally {
      spy.mockRestore();
    }
  });

  it('signs after a cut-off far ahead of its clock without waiting it out (clocks that disagree)', async () => {
    const userId = await insertUser(moduleRef.get(DataSource));
    await moduleRef.get(UserRepository).raiseNotBefore(userId, Date.now() + 60_000);
    const started = Date.now();
    await sign(userId, 'session-1');
    // Bounded by MAX_CUT_OFF_WAIT_MS (1.1 s), not by the minute: a generous bound for a busy machine.
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});

describe('AccessTokenService.verify', () => {
  it('returns the claims of a token it signed', async () => {
    const { token } = await sign('user-1', 'session-1');
    await expect(service.verify(token)).resolves.toMatchObject({
      sub: 'user-1',
      sid: 'session-1',
      iss: ISSUER,
      aud: ISSUER,
    });
  });

  it('refuses a token whose payload was changed after signing', async () => {
    const [header, payload, signature] = segments((await sign('user-1', 'session-1')).token);
    const forged = Buffer.from(JSON.stringify({ ...decode(payload), sub: 'admin' })).toString('base64url');
    await expect(service.verify(`${header}.${forged}.${signature}`)).resolves.toBeUndefined();
  });

  it('refuses an unsigned token (alg: none) naming our key', async () => {
    const { kid } = keys.currentSigningKey();
    const now = Math.floor(Date.now() / 1000);
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: ACCESS_TOKEN_TYPE, kid })).toString('base64url');
    const payload = Buffer.from(
      JSON.stringify({ sub: 'user-1', sid: 's', jti: 'j', iat: now, exp: now + 60, iss: ISSUER, aud: ISSUER }),
    ).toString('base64url');
    await expect(service.verify(`${header}.${payload}.`)).resolves.toBeUndefined();
  });

  it('refuses other JWTs signed with our key: only the access-token type (`at+jwt`) is one', async () => {
    await expect(service.verify(await signedWithOurKey({}, {}))).resolves.toBeDefined();
    await expect(service.verify(await signedWithOurKey({ typ: 'application/at+jwt' }, {}))).resolves.toBeDefined();
    await expect(service.verify(await signedWithOurKey({ typ: 'JWT' }, {}))).resolves.toBeUndefined();
    await expect(service.verify(await signedWithOurKey({ typ: undefined }, {}))).resolves.toBeUndefined();
  });

  it('refuses a token for another issuer or audience, even with a good signature', async () => {
    await expect(service.verify(await signedWithOurKey({}, { iss: 'http://other.test' }))).resolves.toBeUndefined();
    await expect(service.verify(await signedWithOurKey({}, { aud: 'http://other.test' }))).resolves.toBeUndefined();
  });

  it('refuses a token naming a key we do not publish', async () => {
    const token = await signedWithOurKey({ kid: 'not-a-key-of-ours' }, {});
    await expect(service.keyFor(token)).resolves.toBeUndefined();
    await expect(service.verify(token)).resolves.toBeUndefined();
  });

  it('refuses the high-s twin of an ES256 signature, which verifies as ECDSA too', async () => {
    const { token } = await sign('user-1', 'session-1');
    const [header, payload, signature] = segments(token);
    const bytes = Buffer.from(signature, 'base64url');
    const s = BigInt(`0x${bytes.subarray(32).toString('hex')}`);
    const highS = Buffer.from((P256_ORDER - s).toString(16).padStart(64, '0'), 'hex');
    const twin = `${header}.${payload}.${Buffer.concat([bytes.subarray(0, 32), highS]).toString('base64url')}`;
    expect(twin).not.toBe(token);
    await expect(service.verify(twin)).resolves.toBeUndefined();
  });

  it('refuses another spelling of the same signature bytes (non-canonical base64url)', async () => {
    const { token } = await sign('user-1', 'session-1');
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // 64 signature bytes take 86 characters, whose last carries 4 bits that decoders ignore.
    const last = alphabet.indexOf(token.at(-1)!);
    const respelled = `${token.slice(0, -1)}${alphabet[last ^ 1]}`;
    expect(Buffer.from(segments(respelled)[2], 'base64url')).toEqual(Buffer.from(segments(token)[2], 'base64url'));
    await expect(service.verify(respelled)).resolves.toBeUndefined();
    await expect(service.verify(`${token}=`)).resolves.toBeUndefined();
  });

  it('answers undefined, never throws, for strings that are no JWT at all', async () => {
    for (const junk of [
      '',
      'abc',
      'a.b',
      'a.b.c.d',
      '!!!.???.###',
      `${Buffer.from('[1]').toString('base64url')}.e30.`,
    ]) {
      await expect(service.verify(junk)).resolves.toBeUndefined();
    }
  });
});

describe('AccessTokenService.sign with ACCESS_TOKEN_CLAIMS providers', () => {
  let withClaims: TestingModule;
  afterEach(async () => {
    await withClaims?.close();
  });

  /** The service of an app where one module registers `claims` as its provider. */
  async function serviceWithClaims(claims: AccessTokenClaimsProvider['claims']): Promise<AccessTokenService> {
    @Module({ providers: [{ provide: ACCESS_TOKEN_CLAIMS, useValue: { claims } }] })
    class TeamModule {}
    withClaims = await createTestingModule({
      env: { JWT_ALG: 'ES256', JWT_ISSUER: ISSUER, ACCESS_TOKEN_TTL: `${TTL_SECONDS}s` },
      imports: [KeysModule, JwtModule.register({}), UsersModule, DiscoveryModule, TeamModule],
      providers: [AccessTokenService, AccessTokenClaimsService],
    });
    return withClaims.get(AccessTokenService);
  }

  it('merges what the provider returns into the token, beside every registered claim', async () => {
    const signer = await serviceWithClaims(() => ({ tenant: 't-1', features: ['beta'] }));
    const userId = await insertUser(withClaims.get(DataSource), 'Alice');
    const { token } = await signer.sign({
      userId,
      sessionId: 'session-1',
      sessionExpiresAt: Infinity,
      authTime: Date.now(),
      grant: 'password',
    });
    const claims = decode(segments(token)[1]);
    expect(claims).toMatchObject({ tenant: 't-1', features: ['beta'], sub: userId, sid: 'session-1', roles: [] });
    expect(Object.keys(claims).sort()).toEqual(
      ['amr', 'aud', 'auth_time', 'exp', 'features', 'iat', 'iss', 'jti', 'roles', 'sid', 'sub', 'tenant'].sort(),
    );
  });

  it("tells the provider the user (with username and roles), the session, the grant and the token's scopes", async () => {
    const seen: AccessTokenClaimsContext[] = [];
    const signer = await serviceWithClaims((context) => {
      seen.push(context);
      return {};
    });
    const userId = await insertUser(withClaims.get(DataSource), 'Alice');
    await withClaims.get(UserRoleRepository).grant(userId, 'support', Date.now());
    const authTime = Date.now() - 60_000;
    const sessionExpiresAt = Date.now() + 3_600_000;
    await signer.sign({
      userId,
      sessionId: 'session-1',
      sessionExpiresAt,
      authTime,
      scope: 'notes:read',
      sessionScope: 'notes:read notes:write',
      grant: 'refresh_token',
    });
    expect(seen).toEqual([
      {
        user: { id: userId, username: 'Alice', roles: ['support'] },
        session: { id: 'session-1', authTime, expiresAt: sessionExpiresAt, scopes: ['notes:read', 'notes:write'] },
        grant: 'refresh_token',
        scopes: ['notes:read'],
      },
    ]);
  });

  it('hands the provider a frozen context: pushing a role into it changes nothing in the token', async () => {
    let mutation: unknown;
    const signer = await serviceWithClaims((context) => {
      try {
        (context.user.roles as string[]).push('admin');
      } catch (error) {
        mutation = error;
      }
      return {};
    });
    const userId = await insertUser(withClaims.get(DataSource));
    const { token } = await signer.sign({
      userId,
      sessionId: 'session-1',
      sessionExpiresAt: Infinity,
      authTime: Date.now(),
      grant: 'password',
    });
    expect(mutation).toBeInstanceOf(TypeError);
    expect(decode(segments(token)[1]).roles).toEqual([]);
  });

  it('signs nothing when the provider sets a registered claim or throws', async () => {
    const signer = await serviceWithClaims(() => ({ roles: ['admin'] }));
    const subject = { userId: 'user-1', sessionId: 'session-1', sessionExpiresAt: Infinity, authTime: Date.now() };
    await expect(signer.sign({ ...subject, grant: 'password' })).rejects.toThrow(
      new AccessTokenClaimsError('TeamModule/ACCESS_TOKEN_CLAIMS', 'set the reserved claim "roles"'),
    );
    await withClaims.close();
    const throwing = await serviceWithClaims(() => {
      throw new Error('down');
    });
    await expect(throwing.sign({ ...subject, grant: 'refresh_token' })).rejects.toBeInstanceOf(AccessTokenClaimsError);
  });
});
