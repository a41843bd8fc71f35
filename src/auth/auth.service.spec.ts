import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { createTestingModule } from '../../test/utils/testing-module.js';
import { AuditService } from '../audit/audit.service.js';
import type { ClientInfo } from '../common/http/client-info.js';
import { ServerBusyException } from '../common/http/server-busy.exception.js';
import { TooManyAttemptsException } from '../common/http/too-many-attempts.exception.js';
import { InvalidRefreshTokenError } from '../sessions/invalid-refresh-token.error.js';
import type { User } from '../users/user.entity.js';
import { UsersService } from '../users/users.service.js';
import { AccessTokenService } from './access-token.service.js';
import { AuthModule } from './auth.module.js';
import { AuthService, type TokenPair } from './auth.service.js';
import { MAX_REFRESH_COOKIES } from './refresh-cookie.js';
import { TooManyRefreshCookiesException } from './too-many-refresh-cookies.exception.js';

const PASSWORD = 'correct horse battery staple';
const WRONG = 'wrong password';
const CLIENT: ClientInfo = { ip: '203.0.113.7', userAgent: 'spec-agent/1.0' };

let moduleRef: TestingModule | undefined;

/** AuthService with every real collaborator (users, sessions, keys, throttle, audit) on in-memory SQLite. */
async function setup(env: Record<string, string> = {}) {
  moduleRef = await createTestingModule({ env: { LOGIN_MAX_FAILURES_PER_USER: '2', ...env }, imports: [AuthModule] });
  const users = moduleRef.get(UsersService);
  const auth = moduleRef.get(AuthService);
  const audit = moduleRef.get(AuditService);
  /** The user's audit log, oldest first (by the millisecond), with its detail parsed. */
  const events = async (userId: string) =>
    (await audit.listForUser(userId, 100)).items.reverse().map((e) => ({
      type: e.type,
      sessionId: e.sessionId,
      ip: e.ip,
      userAgent: e.userAgent,
      detail: e.detail ? (JSON.parse(e.detail) as Record<string, unknown>) : null,
    }));
  /** The types of the user's events, sorted: events of the same millisecond have no order. */
  const types = async (userId: string) => (await events(userId)).map((e) => e.type).sort();
  return { auth, users, events, types, accessTokens: moduleRef.get(AccessTokenService) };
}

afterEach(async () => {
  jest.restoreAllMocks();
  await moduleRef?.close();
  moduleRef = undefined;
});

async function loginAs(auth: AuthService, user: User, client: ClientInfo = CLIENT): Promise<TokenPair> {
  const pair = await auth.login(user, client);
  if (!pair) throw new Error('login refused');
  return pair;
}

describe('AuthService.verifyLogin', () => {
  it('returns the user for the right password, null for a wrong one and for an unknown name, auditing the failure', async () => {
    const { auth, users, events } = await setup();
    const alice = await users.register('alice', PASSWORD);
    await expect(auth.verifyLogin('alice', PASSWORD, CLIENT)).resolves.toMatchObject({ id: alice.id });
    await expect(auth.verifyLogin('alice', WRONG, CLIENT)).resolves.toBeNull();
    await expect(auth.verifyLogin('nobody', PASSWORD, CLIENT)).resolves.toBeNull();
    expect(await events(alice.id)).toEqual([{ type: 'login_failure', sessionId: null, ...CLIENT, detail: null }]);
  });

  it('refuses every attempt (429) once a username has too many failures, right password or not, and audits it', async () => {
    const { auth, users, types } = await setup();
    const alice = await users.register('alice', PASSWORD);
    await auth.verifyLogin('alice', WRONG, CLIENT);
    await auth.verifyLogin('alice', WRONG, { ip: '198.51.100.1' });
    await expect(auth.verifyLogin('alice', PASSWORD, CLIENT)).rejects.toBeInstanceOf(TooManyAttemptsException);
    expect(await types(alice.id)).toEqual(['login_failure', 'login_failure', 'login_throttled']);
  });

  it('does not count a right password toward the limit', async () => {
    const { auth, users } = await setup();
    await users.register('alice', PASSWORD);
    await auth.verifyLogin('alice', WRONG, CLIENT);
    for (let i = 0; i < 3; i++) await expect(auth.verifyLogin('alice', PASSWORD, CLIENT)).resolves.not.toBeNull();
  });

  it('gives the attempt back when hashing was too busy to check the password (503): nothing was checked', async () => {
    const { auth, users } = await setup();
    await users.register('alice', PASSWORD);
    const verify = jest.spyOn(users, 'verifyCredentials');
    for (let i = 0; i < 3; i++) {
      verify.mockRejectedValueOnce(new ServerBusyException('Password hashing is busy', 1));
      await expect(auth.verifyLogin('alice', PASSWORD, CLIENT)).rejects.toBeInstanceOf(ServerBusyException);
    }
    await expect(auth.verifyLogin('alice', PASSWORD, CLIENT)).resolves.not.toBeNull();
  });
});

describe('AuthService.login', () => {
  it('starts a session and returns an access token for it, auditing the login with the client', async () => {
    const { auth, users, events, accessTokens } = await setup();
    const alice = await users.register('alice', PASSWORD);
    const pair = await loginAs(auth, alice);
    expect(pair.refresh).toMatchObject({ userId: alice.id, token: expect.any(String) });
    await expect(accessTokens.verify(pair.access.token)).resolves.toMatchObject({
      sub: alice.id,
      sid: pair.refresh.sessionId,
    });
    expect(await events(alice.id)).toEqual([
      { type: 'login_success', sessionId: pair.refresh.sessionId, ...CLIENT, detail: null },
    ]);
  });

  it('refuses (null) a user whose password changed after it was checked, and audits why', async () => {
    const { auth, users, events } = await setup();
    const checked = await users.register('alice', PASSWORD);
    await users.changePassword(checked.id, PASSWORD, 'another long password');
    await expect(auth.login(checked, CLIENT)).resolves.toBeNull();
    expect(await events(checked.id)).toEqual([
      { type: 'login_failure', sessionId: null, ...CLIENT, detail: { reason: 'password_changed_during_login' } },
    ]);
  });

  it('evicts the least recently used session beyond MAX_SESSIONS_PER_USER, and audits which', async () => {
    const { auth, users, events } = await setup({ MAX_SESSIONS_PER_USER: '2' });
    const alice = await users.register('alice', PASSWORD);
    // A clock that moves on every read, so "least recently used" is never a tie within a millisecond.
    let clock = Date.now();
    jest.spyOn(Date, 'now').mockImplementation(() => (clock += 1000));
    const first = await loginAs(auth, alice);
    await loginAs(auth, alice);
    const third = await loginAs(auth, alice);
    expect((await events(alice.id)).filter((e) => e.type === 'session_evicted')).toEqual([
      {
        type: 'session_evicted',
        sessionId: first.refresh.sessionId,
        ...CLIENT,
        detail: { bySessionId: third.refresh.sessionId },
      },
    ]);
    await expect(auth.refresh(first.refresh.token)).rejects.toBeInstanceOf(InvalidRefreshTokenError);
  });
});

describe('AuthService.refresh and logout', () => {
  it('trades a refresh token for a new pair of the same session', async () => {
    const { auth, users, accessTokens } = await setup();
    const pair = await loginAs(auth, await users.register('alice', PASSWORD));
    const next = await auth.refresh(pair.refresh.token, CLIENT);
    expect(next.refresh.token).not.toBe(pair.refresh.token);
    expect(next.refresh.sessionId).toBe(pair.refresh.sessionId);
    await expect(accessTokens.verify(next.access.token)).resolves.toMatchObject({ sid: pair.refresh.sessionId });
    await expect(auth.refresh('not a refresh token')).rejects.toBeInstanceOf(InvalidRefreshTokenError);
  });

  it('logout revokes the session and audits it; an unknown token is a quiet no-op', async () => {
    const { auth, users, types } = await setup();
    const alice = await users.register('alice', PASSWORD);
    const pair = await loginAs(auth, alice);
    await auth.logout(pair.refresh.token, CLIENT);
    await expect(auth.refresh(pair.refresh.token)).rejects.toBeInstanceOf(InvalidRefreshTokenError);
    await expect(auth.logout('not a refresh token', CLIENT)).resolves.toBeUndefined();
    await expect(auth.logout(undefined, CLIENT)).resolves.toBeUndefined();
    expect(await types(alice.id)).toEqual(['login_success', 'logout']);
  });
});

describe('AuthService with several refresh cookies at once', () => {
  it('a conflicting refresh revokes every live session among them, and audits each under its own user', async () => {
    const { auth, users, events } = await setup();
    const alice = await users.register('alice', PASSWORD);
    const bob = await users.register('bob', PASSWORD);
    const a1 = await loginAs(auth, alice);
    const a2 = await loginAs(auth, alice);
    const b = await loginAs(auth, bob);
    await auth.resolveCookieConflict(
      [a1.refresh.token, 'planted', a2.refresh.token, b.refresh.token],
      'refresh',
      CLIENT,
    );
    for (const pair of [a1, a2, b])
      await expect(auth.refresh(pair.refresh.token)).rejects.toBeInstanceOf(InvalidRefreshTokenError);
    const conflicts = (await events(alice.id)).filter((e) => e.type === 'refresh_cookie_conflict');
    expect(conflicts.map((e) => e.sessionId).sort()).toEqual([a1.refresh.sessionId, a2.refresh.sessionId].sort());
    expect(conflicts[0].detail).toMatchObject({ route: 'refresh', cookies: 4, liveSessions: 3, sessionRevoked: true });
    expect((await events(bob.id)).filter((e) => e.type === 'refresh_cookie_conflict')).toHaveLength(1);
  });

  it('logout revokes the session of every presented token of ours, not just the first', async () => {
    const { auth, users, types } = await setup();
    const alice = await users.register('alice', PASSWORD);
    const a1 = await loginAs(auth, alice);
    const a2 = await loginAs(auth, alice);
    await auth.resolveCookieConflict(['planted', a1.refresh.token, a2.refresh.token], 'logout', CLIENT);
    await expect(auth.refresh(a1.refresh.token)).rejects.toBeInstanceOf(InvalidRefreshTokenError);
    await expect(auth.refresh(a2.refresh.token)).rejects.toBeInstanceOf(InvalidRefreshTokenError);
    expect((await types(alice.id)).sort()).toEqual(
      [
        'login_success',
        'login_success',
        'logout',
        'logout',
        'refresh_cookie_conflict',
        'refresh_cookie_conflict',
      ].sort(),
    );
  });

  it('logs conflicts that name no session of ours at most once a minute, with their count', async () => {
    const { auth } = await setup();
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      for (let i = 0; i < 5; i++) await auth.resolveCookieConflict(['junk-a', 'junk-b'], 'refresh', CLIENT, 1_000 + i);
      const conflictWarnings = () =>
        warn.mock.calls.filter(([entry]) => (entry as { event?: string }).event === 'refresh_cookie_conflict');
      expect(conflictWarnings()).toHaveLength(1);
      await auth.resolveCookieConflict(['junk-a', 'junk-b'], 'logout', CLIENT, 61_001);
      expect(conflictWarnings()).toHaveLength(2);
      expect(conflictWarnings()[1][0]).toMatchObject({ route: 'logout', occurrencesSinceLastLog: 5 });
    } finally {
      warn.mockRestore();
    }
  });

  it('more than MAX_REFRESH_COOKIES cookies are refused without being looked at', async () => {
    const { auth, users } = await setup();
    const alice = await users.register('alice', PASSWORD);
    const a1 = await loginAs(auth, alice);
    const presented = [a1.refresh.token, ...Array.from({ length: MAX_REFRESH_COOKIES }, (_, i) => `planted-${i}`)];
    await expect(auth.resolveCookieConflict(presented, 'refresh', CLIENT)).rejects.toBeInstanceOf(
      TooManyRefreshCookiesException,
    );
    await expect(auth.refresh(a1.refresh.token)).resolves.toBeDefined();
  });
});

describe('AuthService.logoutAll and changePassword', () => {
  it('logoutAll revokes every session of the user, the caller included, and says how many', async () => {
    const { auth, users, events } = await setup();
    const alice = await users.register('alice', PASSWORD);
    const a1 = await loginAs(auth, alice);
    const a2 = await loginAs(auth, alice);
    await auth.logoutAll(alice.id, a1.refresh.sessionId, CLIENT);
    for (const pair of [a1, a2])
      await expect(auth.refresh(pair.refresh.token)).rejects.toBeInstanceOf(InvalidRefreshTokenError);
    expect((await events(alice.id)).find((e) => e.type === 'logout_all')).toEqual({
      type: 'logout_all',
      sessionId: a1.refresh.sessionId,
      ...CLIENT,
      detail: { sessionsRevoked: 2 },
    });
  });

  it('changes the password and signs out every other session, keeping the caller', async () => {
    const { auth, users, events } = await setup();
    const alice = await users.register('alice', PASSWORD);
    const caller = await loginAs(auth, alice);
    const other = await loginAs(auth, alice);
    const principal = { userId: alice.id, username: 'alice', sessionId: caller.refresh.sessionId };
    await expect(auth.changePassword(principal, PASSWORD, 'another long password', CLIENT)).resolves.toBe(true);
    await expect(auth.refresh(other.refresh.token)).rejects.toBeInstanceOf(InvalidRefreshTokenError);
    await expect(auth.refresh(caller.refresh.token)).resolves.toBeDefined();
    await expect(auth.verifyLogin('alice', 'another long password', CLIENT)).resolves.not.toBeNull();
    expect((await events(alice.id)).find((e) => e.type === 'password_changed')).toEqual({
      type: 'password_changed',
      sessionId: caller.refresh.sessionId,
      ...CLIENT,
      detail: { otherSessionsRevoked: 1 },
    });
  });

  it('refuses a wrong current password (false), and counts it toward the login throttle', async () => {
    const { auth, users, types } = await setup();
    const alice = await users.register('alice', PASSWORD);
    const caller = await loginAs(auth, alice);
    const principal = { userId: alice.id, username: 'alice', sessionId: caller.refresh.sessionId };
    await expect(auth.changePassword(principal, WRONG, 'another long password', CLIENT)).resolves.toBe(false);
    await expect(auth.changePassword(principal, WRONG, 'another long password', CLIENT)).resolves.toBe(false);
    await expect(auth.changePassword(principal, PASSWORD, 'another long password', CLIENT)).rejects.toBeInstanceOf(
      TooManyAttemptsException,
    );
    await expect(auth.verifyLogin('alice', PASSWORD, CLIENT)).rejects.toBeInstanceOf(TooManyAttemptsException);
    expect(await types(alice.id)).toEqual([
      'login_success',
      'login_throttled',
      'password_change_failure',
      'password_change_failure',
    ]);
  });
});
