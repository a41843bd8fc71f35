import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { TestingModule } from '@nestjs/testing';
import { createTestingModule } from '../../../test/utils/testing-module.js';
import { KeysService } from '../../keys/keys.service.js';
import { UsersService } from '../../users/users.service.js';
import { ACCESS_TOKEN_TYPE, AccessTokenService, type AccessTokenClaims } from '../access-token.service.js';
import { AuthModule } from '../auth.module.js';
import { AuthService } from '../auth.service.js';
import type { AccessTokenPrincipal } from '../decorators/current-user.decorator.js';
import { signJwt } from '../jwt-signer.js';
import { JwtStrategy } from './jwt.strategy.js';

const ISSUER = 'http://issuer.test';

type Outcome = { principal: AccessTokenPrincipal } | { failed: true } | { error: Error };

let moduleRef: TestingModule;
let strategy: JwtStrategy;
let auth: AuthService;
let keyFor: jest.SpiedFunction<AccessTokenService['keyFor']>;

beforeEach(async () => {
  moduleRef = await createTestingModule({ env: { JWT_ISSUER: ISSUER }, imports: [AuthModule] });
  strategy = moduleRef.get(JwtStrategy);
  auth = moduleRef.get(AuthService);
  keyFor = jest.spyOn(moduleRef.get(AccessTokenService), 'keyFor');
});

afterEach(async () => {
  await moduleRef.close();
});

/**
 * Runs the strategy as passport does: on an object whose prototype is the strategy, given the
 * success / fail / error callbacks, and reports which one it called.
 */
function authenticate(authorization?: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const run = Object.assign(Object.create(strategy) as JwtStrategy, {
      success: (principal: AccessTokenPrincipal) => resolve({ principal }),
      fail: () => resolve({ failed: true }),
      error: (error: Error) => resolve({ error }),
    });
    run.authenticate({ headers: authorization === undefined ? {} : { authorization } });
  });
}

/** A user with one session, and an access token of that session. */
async function loggedIn(username = 'alice'): Promise<{ userId: string; sessionId: string; token: string }> {
  const user = await moduleRef.get(UsersService).register(username, 'correct horse battery staple');
  const pair = await auth.login(user, {});
  return { userId: user.id, sessionId: pair!.refresh.sessionId, token: pair!.access.token };
}

/** A token signed with our key but carrying exactly these claims. */
async function signedWithOurKey(claims: Partial<AccessTokenClaims>): Promise<string> {
  const { kid, alg, signingKey } = moduleRef.get(KeysService).currentSigningKey();
  return signJwt({ alg, typ: ACCESS_TOKEN_TYPE, kid }, claims, signingKey);
}

const now = () => Math.floor(Date.now() / 1000);

describe('JwtStrategy', () => {
  it("turns a valid access token of a live session into the principal, with the user's name", async () => {
    const { userId, sessionId, token } = await loggedIn();
    const jti = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).jti as string;
    await expect(authenticate(`Bearer ${token}`)).resolves.toEqual({
      principal: { userId, username: 'alice', sessionId, tokenId: jti, roles: [], scopes: [] },
    });
  });

  it('fails (401, no error) without a Bearer token, or with one that is not ours', async () => {
    await expect(authenticate()).resolves.toEqual({ failed: true });
    await expect(authenticate('Basic YWxpY2U6c2VjcmV0')).resolves.toEqual({ failed: true });
    await expect(authenticate('Bearer not.a.jwt')).resolves.toEqual({ failed: true });
  });

  it('fails for a well-signed token of a revoked session: revocation reaches access tokens', async () => {
    const { userId, sessionId, token } = await loggedIn();
    await auth.logoutAll(userId, sessionId, {});
    await expect(authenticate(`Bearer ${token}`)).resolves.toEqual({ failed: true });
  });

  it('checks the signature of a token once, but the session on every request', async () => {
    const { userId, sessionId, token } = await loggedIn();
    await expect(authenticate(`Bearer ${token}`)).resolves.toHaveProperty('principal');
    await expect(authenticate(`Bearer ${token}`)).resolves.toHaveProperty('principal');
    expect(keyFor).toHaveBeenCalledTimes(1);

    await auth.logoutAll(userId, sessionId, {});
    await expect(authenticate(`Bearer ${token}`)).resolves.toEqual({ failed: true });
  });

  it('refuses a signed token without the claims every token of ours has (one without exp would never expire)', async () => {
    const { userId, sessionId } = await loggedIn();
    const complete = {
      sub: userId,
      sid: sessionId,
      jti: 'jti-1',
      iat: now(),
      exp: now() + 60,
      iss: ISSUER,
      aud: ISSUER,
    };
    await expect(authenticate(`Bearer ${await signedWithOurKey(complete)}`)).resolves.toHaveProperty('principal');
    for (const claim of ['sub', 'sid', 'jti', 'iat', 'exp'] as const) {
      const { [claim]: _left, ...rest } = complete;
      const outcome = await authenticate(`Bearer ${await signedWithOurKey(rest)}`);
      expect({ without: claim, outcome }).toEqual({ without: claim, outcome: { failed: true } });
    }
  });

  it("refuses a session named by someone else's token: the session must belong to the token's subject", async () => {
    const alice = await loggedIn('alice');
    const bob = await loggedIn('bob');
    const claims = {
      sub: bob.userId,
      sid: alice.sessionId,
      jti: 'jti-1',
      iat: now(),
      exp: now() + 60,
      iss: ISSUER,
      aud: ISSUER,
    };
    await expect(authenticate(`Bearer ${await signedWithOurKey(claims)}`)).resolves.toEqual({ failed: true });
  });

  it('refuses an expired token', async () => {
    const { userId, sessionId } = await loggedIn();
    const claims = {
      sub: userId,
      sid: sessionId,
      jti: 'jti-1',
      iat: now() - 120,
      exp: now() - 60,
      iss: ISSUER,
      aud: ISSUER,
    };
    await expect(authenticate(`Bearer ${await signedWithOurKey(claims)}`)).resolves.toEqual({ failed: true });
  });
});
