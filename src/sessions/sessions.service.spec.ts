import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from '@jest/globals';
import { ConfigModule } from '@nestjs/config';
import { Test, type TestingModule } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuditEvent } from '../audit/audit-event.entity.js';
import { AuditModule } from '../audit/audit.module.js';
import { loadConfig } from '../config/env.validation.js';
import { buildDataSourceOptions } from '../database/data-source-options.js';
import { KeysModule } from '../keys/keys.module.js';
import { User } from '../users/user.entity.js';
import { UsersModule } from '../users/users.module.js';
import { InvalidRefreshTokenError, type RefreshRejection } from './invalid-refresh-token.error.js';
import { RefreshToken } from './refresh-token.entity.js';
import { refreshTokenCodec as codec } from './refresh-token.codec.js';
import { DatabaseModule } from '../database/database.module.js';
import { RedisModule } from '../redis/redis.module.js';
import { SessionRevocationBus } from './session-revocation.bus.js';
import { SessionStateCache } from './session-state.cache.js';
import { Session } from './session.entity.js';
import { RefreshTokenRotationService } from './refresh-token-rotation.service.js';
import { RefreshTokenRepository } from './refresh-token.repository.js';
import { SessionRepository } from './session.repository.js';
import { SessionsService, type ClientInfo, type IssuedRefreshToken } from './sessions.service.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** A fixed clock, far from Date.now(), so nothing here depends on the real time. */
const T0 = Date.UTC(2031, 0, 1);

interface Ctx {
  moduleRef: TestingModule;
  service: SessionsService;
  cache: SessionStateCache;
  dataSource: DataSource;
  userId: string;
  /** `RefreshTokenRotationService.rotate` at a given time. */
  rotate(token: unknown, now: number, client?: ClientInfo): Promise<IssuedRefreshToken>;
}

let ctx: Ctx | undefined;

/**
 * The service with its real collaborators: migrated in-memory SQLite, KeysService, the session
 * state cache, the audit log and validated config.
 */
async function setup(env: Record<string, string> = {}): Promise<Ctx> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      ConfigModule.forRoot({
        isGlobal: true,
        ignoreEnvFile: true,
        load: [
          () =>
            loadConfig({
              NODE_ENV: 'test',
              // A symmetric key is generated in microseconds; RSA would slow every test down.
              JWT_ALG: 'HS256',
              ARGON2_MEMORY_KIB: '1024',
              ARGON2_ITERATIONS: '1',
              ...env,
            }),
        ],
      }),
      TypeOrmModule.forRoot(
        buildDataSourceOptions({ type: 'sqlite', url: 'sqlite::memory:', sqlitePath: ':memory:', logging: false, busyTimeout: 5 }),
      ),
      TypeOrmModule.forFeature([Session, RefreshToken]),
      KeysModule,
      AuditModule,
      RedisModule,
      DatabaseModule,
      UsersModule,
    ],
    providers: [SessionRepository, RefreshTokenRepository, SessionsService, RefreshTokenRotationService, SessionStateCache, SessionRevocationBus],
  }).compile();
  moduleRef.useLogger(false);
  await moduleRef.init();
  const dataSource = moduleRef.get(DataSource);
  const userId = await insertUser(dataSource);
  const service = moduleRef.get(SessionsService);
  ctx = {
    moduleRef,
    service,
    cache: moduleRef.get(SessionStateCache),
    dataSource,
    userId,
    rotate: (token, now, client = {}) => moduleRef.get(RefreshTokenRotationService).rotate(token, client, now),
  };
  return ctx;
}

async function insertUser(dataSource: DataSource, username = `user-${randomUUID().slice(0, 8)}`): Promise<string> {
  const id = randomUUID();
  await dataSource.getRepository(User).insert({
    id,
    username,
    usernameNormalized: username.toLowerCase(),
    passwordHash: '$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA',
    createdAt: T0,
  });
  return id;
}

afterEach(async () => {
  await ctx?.moduleRef.close();
  ctx = undefined;
});

/** Awaits a rejection and checks it is an InvalidRefreshTokenError with that reason. */
async function expectRejected(promise: Promise<unknown>, reason: RefreshRejection): Promise<void> {
  await expect(promise).rejects.toThrow(InvalidRefreshTokenError);
  await expect(promise).rejects.toMatchObject({ reason });
}

function tokenRows(dataSource: DataSource, sessionId?: string): Promise<RefreshToken[]> {
  return dataSource.getRepository(RefreshToken).find({ where: sessionId ? { sessionId } : {}, order: { createdAt: 'ASC' } });
}

async function session(dataSource: DataSource, id: string): Promise<Session> {
  return dataSource.getRepository(Session).findOneByOrFail({ id });
}

/** Every cell of the session and token tables, as text, to look for a raw token. */
async function allStoredText(dataSource: DataSource): Promise<string> {
  const tokens = await dataSource.query('SELECT * FROM refresh_tokens');
  const sessions = await dataSource.query('SELECT * FROM sessions');
  const cells = [...tokens, ...sessions].flatMap((row: Record<string, unknown>) => Object.values(row).map(String));
  expect(cells.length).toBeGreaterThan(0);
  return cells.join('\n');
}

describe('SessionsService', () => {
  describe('create', () => {
    it('issues a well-formed token that expires after REFRESH_TOKEN_TTL', async () => {
      const { service, userId } = await setup({ REFRESH_TOKEN_TTL: '1h' });
      const issued = await service.create(userId, {}, T0);
      expect(codec.isWellFormed(issued.token)).toBe(true);
      expect(issued.userId).toBe(userId);
      expect(issued.expiresAt).toBe(T0 + HOUR);
    });

    it('stores the session with its absolute expiry and client details', async () => {
      const { service, dataSource, userId } = await setup({ SESSION_MAX_AGE: '7d' });
      const issued = await service.create(userId, { userAgent: 'x'.repeat(600), ip: '203.0.113.9' }, T0);
      expect(await session(dataSource, issued.sessionId)).toEqual({
        id: issued.sessionId,
        userId,
        createdAt: T0,
        lastUsedAt: T0,
        expiresAt: T0 + 7 * DAY,
        revokedAt: null,
        revokedReason: null,
        userAgent: 'x'.repeat(512),
        ip: '203.0.113.9',
      });
    });

    it('stores missing client details as null', async () => {
      const { service, dataSource, userId } = await setup();
      const issued = await service.create(userId, { userAgent: '', ip: null }, T0);
      expect(await session(dataSource, issued.sessionId)).toMatchObject({ userAgent: null, ip: null });
    });

    it('stores only the SHA-256 of the token, never the token', async () => {
      const { service, dataSource, userId } = await setup();
      const issued = await service.create(userId, {}, T0);
      const rows = await tokenRows(dataSource, issued.sessionId);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ parentId: null, nonce: null, tokenHash: codec.hash(issued.token), createdAt: T0 });
      expect(await allStoredText(dataSource)).not.toContain(issued.token);
    });

    it('caps the first token at the session expiry when SESSION_MAX_AGE is the shorter', async () => {
      const { service, dataSource, userId } = await setup({ REFRESH_TOKEN_TTL: '1d', SESSION_MAX_AGE: '2h' });
      const issued = await service.create(userId, {}, T0);
      expect(issued.expiresAt).toBe(T0 + 2 * HOUR);
      expect((await tokenRows(dataSource, issued.sessionId))[0].expiresAt).toBe(T0 + 2 * HOUR);
    });

    it('issues distinct tokens and sessions for each login', async () => {
      const { service, userId } = await setup();
      const a = await service.create(userId, {}, T0);
      const b = await service.create(userId, {}, T0);
      expect(a.token).not.toBe(b.token);
      expect(a.sessionId).not.toBe(b.sessionId);
    });

    it('fails for a user that does not exist and leaves nothing behind', async () => {
      const { service, dataSource } = await setup();
      await expect(service.create(randomUUID(), {}, T0)).rejects.toThrow();
      expect(await dataSource.getRepository(Session).count()).toBe(0);
      expect(await dataSource.getRepository(RefreshToken).count()).toBe(0);
    });
  });

  describe('rotate', () => {
    it('returns a new token for the same session and stores only its hash', async () => {
      const { service, rotate, dataSource, userId } = await setup({ REFRESH_TOKEN_TTL: '1h' });
      const first = await service.create(userId, {}, T0);
      const second = await rotate(first.token, T0 + MINUTE);

      expect(codec.isWellFormed(second.token)).toBe(true);
      expect(second.token).not.toBe(first.token);
      expect(second).toMatchObject({ userId, sessionId: first.sessionId, expiresAt: T0 + MINUTE + HOUR });

      const [root, child] = await tokenRows(dataSource, first.sessionId);
      expect(child).toMatchObject({ parentId: root.id, tokenHash: codec.hash(second.token), createdAt: T0 + MINUTE });
      expect(child.nonce).toEqual(expect.any(String));
      const stored = await allStoredText(dataSource);
      expect(stored).not.toContain(first.token);
      expect(stored).not.toContain(second.token);
    });

    it('records when the session was last used', async () => {
      const { service, rotate, dataSource, userId } = await setup();
      const first = await service.create(userId, {}, T0);
      await rotate(first.token, T0 + 5 * MINUTE);
      expect((await session(dataSource, first.sessionId)).lastUsedAt).toBe(T0 + 5 * MINUTE);
    });

    it('follows a chain of rotations', async () => {
      const { service, rotate, dataSource, userId } = await setup({ REFRESH_REUSE_GRACE: '0' });
      let current = await service.create(userId, {}, T0);
      const seen = new Set([current.token]);
      for (let i = 1; i <= 5; i++) {
        current = await rotate(current.token, T0 + i * MINUTE);
        seen.add(current.token);
      }
      expect(seen.size).toBe(6);
      expect(await tokenRows(dataSource, current.sessionId)).toHaveLength(6);
      expect((await session(dataSource, current.sessionId)).revokedAt).toBeNull();
    });

    it('rejects a malformed token', async () => {
      const { rotate } = await setup();
      for (const token of [undefined, null, 42, '', 'abc', `${codec.generate()}x`, { token: codec.generate() }]) {
        await expectRejected(rotate(token, T0), 'malformed');
      }
    });

    it('rejects a well-formed token it never issued', async () => {
      const { service, rotate, userId } = await setup();
      await service.create(userId, {}, T0);
      await expectRejected(rotate(codec.generate(), T0), 'unknown');
    });

    describe('reuse with REFRESH_REUSE_GRACE=0', () => {
      it('treats a rotated token as used: presenting it again revokes the session', async () => {
        const { service, rotate, dataSource, userId } = await setup({ REFRESH_REUSE_GRACE: '0' });
        const first = await service.create(userId, {}, T0);
        const second = await rotate(first.token, T0 + MINUTE);

        await expectRejected(rotate(first.token, T0 + MINUTE), 'reused');

        expect(await session(dataSource, first.sessionId)).toMatchObject({
          revokedAt: T0 + MINUTE,
          revokedReason: 'refresh_token_reuse',
        });
        // The legitimate holder's token dies with the session: we cannot tell which party is the thief.
        await expectRejected(rotate(second.token, T0 + MINUTE), 'revoked');
        expect(await tokenRows(dataSource, first.sessionId)).toHaveLength(2);
      });

      it('records one audit event for the reuse, with the client that presented the token', async () => {
        const { service, rotate, dataSource, userId } = await setup({ REFRESH_REUSE_GRACE: '0' });
        const first = await service.create(userId, {}, T0);
        await rotate(first.token, T0);
        const thief = { ip: '198.51.100.7', userAgent: 'curl/8' };
        await expectRejected(rotate(first.token, T0 + 1, thief), 'reused');
        await expectRejected(rotate(first.token, T0 + 2, thief), 'revoked');

        const events = await dataSource.getRepository(AuditEvent).findBy({ type: 'refresh_token_reuse' });
        expect(events).toHaveLength(1);
        expect(events[0]).toMatchObject({ userId, sessionId: first.sessionId, ip: thief.ip, userAgent: thief.userAgent });
        const stored = JSON.stringify(await dataSource.query('SELECT * FROM audit_events'));
        expect(stored).not.toContain(first.token);
      });

      it('marks the session dead for access-token checks at once', async () => {
        const { service, rotate, cache, userId } = await setup({ REFRESH_REUSE_GRACE: '0' });
        const first = await service.create(userId, {}, T0);
        await rotate(first.token, T0);
        // Timestamps are in the future (T0), so the session is not past its expiry for the cache's clock.
        await expect(cache.activeUsername(first.sessionId, userId)).resolves.toEqual(expect.any(String));
        await expectRejected(rotate(first.token, T0 + 1), 'reused');
        await expect(cache.activeUsername(first.sessionId, userId)).resolves.toBeUndefined();
      });

      it('leaves the user’s other sessions alone', async () => {
        const { service, rotate, dataSource, userId } = await setup({ REFRESH_REUSE_GRACE: '0' });
        const stolen = await service.create(userId, {}, T0);
        const other = await service.create(userId, {}, T0);
        await rotate(stolen.token, T0);
        await expectRejected(rotate(stolen.token, T0), 'reused');
        expect((await session(dataSource, other.sessionId)).revokedAt).toBeNull();
        await expect(rotate(other.token, T0)).resolves.toMatchObject({ sessionId: other.sessionId });
      });
    });

    describe('reuse grace window (REFRESH_REUSE_GRACE=10s)', () => {
      it('hands back the same child inside the window and stores nothing new', async () => {
        const { service, rotate, dataSource, userId } = await setup({ REFRESH_REUSE_GRACE: '10s' });
        const first = await service.create(userId, {}, T0);
        const child = await rotate(first.token, T0 + MINUTE);

        const retried = await rotate(first.token, T0 + MINUTE + 5 * SECOND);
        const retriedAtEdge = await rotate(first.token, T0 + MINUTE + 10 * SECOND);

        expect(retried).toEqual(child);
        expect(retriedAtEdge).toEqual(child);
        expect(await tokenRows(dataSource, first.sessionId)).toHaveLength(2);
        expect((await session(dataSource, first.sessionId)).revokedAt).toBeNull();
        // The child is still the live token.
        await expect(rotate(child.token, T0 + MINUTE + 11 * SECOND)).resolves.toMatchObject({
          sessionId: first.sessionId,
        });
      });

      it('detects reuse 1 ms after the window closes', async () => {
        const { service, rotate, dataSource, userId } = await setup({ REFRESH_REUSE_GRACE: '10s' });
        const first = await service.create(userId, {}, T0);
        const child = await rotate(first.token, T0 + MINUTE);

        await expectRejected(rotate(first.token, T0 + MINUTE + 10 * SECOND + 1), 'reused');

        expect((await session(dataSource, first.sessionId)).revokedReason).toBe('refresh_token_reuse');
        await expectRejected(rotate(child.token, T0 + MINUTE + 10 * SECOND + 2), 'revoked');
      });

      it('does not apply once the child has itself been rotated', async () => {
        const { service, rotate, dataSource, userId } = await setup({ REFRESH_REUSE_GRACE: '10s' });
        const first = await service.create(userId, {}, T0);
        const child = await rotate(first.token, T0);
        const grandchild = await rotate(child.token, T0 + SECOND);

        await expectRejected(rotate(first.token, T0 + 2 * SECOND), 'reused');

        expect((await session(dataSource, first.sessionId)).revokedReason).toBe('refresh_token_reuse');
        await expectRejected(rotate(grandchild.token, T0 + 3 * SECOND), 'revoked');
        expect(await tokenRows(dataSource, first.sessionId)).toHaveLength(3);
      });

      it('hands back the grandchild when the child is retried', async () => {
        const { service, rotate, userId } = await setup({ REFRESH_REUSE_GRACE: '10s' });
        const first = await service.create(userId, {}, T0);
        const child = await rotate(first.token, T0);
        const grandchild = await rotate(child.token, T0 + SECOND);
        await expect(rotate(child.token, T0 + 2 * SECOND)).resolves.toEqual(grandchild);
      });
    });

    describe('expiry', () => {
      it('rejects a refresh token at its expiresAt, without revoking the session', async () => {
        const { service, rotate, dataSource, userId } = await setup({ REFRESH_TOKEN_TTL: '1h', SESSION_MAX_AGE: '30d' });
        const first = await service.create(userId, {}, T0);

        await expectRejected(rotate(first.token, T0 + HOUR), 'expired');
        await expectRejected(rotate(first.token, T0 + DAY), 'expired');

        expect((await session(dataSource, first.sessionId)).revokedAt).toBeNull();
        await expect(rotate(first.token, T0 + HOUR - 1)).resolves.toMatchObject({ sessionId: first.sessionId });
      });

      it('renews REFRESH_TOKEN_TTL on each rotation', async () => {
        const { service, rotate, userId } = await setup({ REFRESH_TOKEN_TTL: '1h', SESSION_MAX_AGE: '30d' });
        const first = await service.create(userId, {}, T0);
        const second = await rotate(first.token, T0 + 50 * MINUTE);
        expect(second.expiresAt).toBe(T0 + 110 * MINUTE);
        // Past the first token's expiry, the second one still works.
        const third = await rotate(second.token, T0 + 100 * MINUTE);
        expect(third.expiresAt).toBe(T0 + 160 * MINUTE);
        await expectRejected(rotate(third.token, T0 + 160 * MINUTE), 'expired');
      });

      it('never extends a token past the session’s absolute expiry (SESSION_MAX_AGE)', async () => {
        const { service, rotate, dataSource, userId } = await setup({ REFRESH_TOKEN_TTL: '1h', SESSION_MAX_AGE: '2h' });
        const first = await service.create(userId, {}, T0);
        const second = await rotate(first.token, T0 + 50 * MINUTE);
        expect(second.expiresAt).toBe(T0 + 110 * MINUTE);

        const third = await rotate(second.token, T0 + 100 * MINUTE);
        expect(third.expiresAt).toBe(T0 + 2 * HOUR);
        const rows = await tokenRows(dataSource, first.sessionId);
        expect(rows[2].expiresAt).toBe(T0 + 2 * HOUR);
        expect((await session(dataSource, first.sessionId)).expiresAt).toBe(T0 + 2 * HOUR);
      });

      it('rejects every token once the session has expired', async () => {
        const { service, rotate, userId } = await setup({ REFRESH_TOKEN_TTL: '1h', SESSION_MAX_AGE: '2h' });
        const first = await service.create(userId, {}, T0);
        const second = await rotate(first.token, T0 + 50 * MINUTE);
        const third = await rotate(second.token, T0 + 100 * MINUTE);

        await expectRejected(rotate(third.token, T0 + 2 * HOUR), 'session_expired');
        await expectRejected(rotate(second.token, T0 + 3 * HOUR), 'session_expired');
        await expectRejected(rotate(first.token, T0 + 3 * HOUR), 'session_expired');
        await expect(rotate(third.token, T0 + 2 * HOUR - 1)).resolves.toMatchObject({
          expiresAt: T0 + 2 * HOUR,
        });
      });
    });

    it('rejects a token of a revoked session', async () => {
      const { service, rotate, userId } = await setup();
      const first = await service.create(userId, {}, T0);
      expect(await service.revoke(first.sessionId, 'revoked', T0)).toBe(true);
      await expectRejected(rotate(first.token, T0 + 1), 'revoked');
    });

    describe('concurrent rotation of one token', () => {
      it('with REFRESH_REUSE_GRACE=0, exactly one call succeeds and the others are refused', async () => {
        const { service, rotate, dataSource, userId } = await setup({ REFRESH_REUSE_GRACE: '0' });
        const first = await service.create(userId, {}, T0);

        const results = await Promise.allSettled(Array.from({ length: 10 }, () => rotate(first.token, T0 + 1)));

        const fulfilled = results.filter((r) => r.status === 'fulfilled');
        const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(fulfilled).toHaveLength(1);
        expect(rejected).toHaveLength(9);
        for (const { reason } of rejected) {
          expect(reason).toBeInstanceOf(InvalidRefreshTokenError);
          expect(['reused', 'revoked']).toContain((reason as InvalidRefreshTokenError).reason);
        }
        // One child per token, however many requests raced.
        expect(await tokenRows(dataSource, first.sessionId)).toHaveLength(2);
      });

      it('inside the grace window, every call gets the same child', async () => {
        const { service, rotate, dataSource, userId } = await setup({ REFRESH_REUSE_GRACE: '10s' });
        const first = await service.create(userId, {}, T0);

        const results = await Promise.all(Array.from({ length: 10 }, () => rotate(first.token, T0 + 1)));

        expect(new Set(results.map((r) => r.token)).size).toBe(1);
        const rows = await tokenRows(dataSource, first.sessionId);
        expect(rows).toHaveLength(2);
        expect(rows[1].tokenHash).toBe(codec.hash(results[0].token));
        expect((await session(dataSource, first.sessionId)).revokedAt).toBeNull();
      });
    });
  });

  describe('revokeByToken', () => {
    it('revokes the session of the current token, as a logout by default', async () => {
      const { service, rotate, dataSource, userId } = await setup();
      const first = await service.create(userId, {}, T0);
      await expect(service.revokeByToken(first.token)).resolves.toEqual({ sessionId: first.sessionId, userId });
      expect((await session(dataSource, first.sessionId)).revokedReason).toBe('logout');
      await expectRejected(rotate(first.token, T0 + 1), 'revoked');
    });

    it('revokes the session through an old, already rotated token', async () => {
      const { service, rotate, dataSource, userId } = await setup();
      const first = await service.create(userId, {}, T0);
      const second = await rotate(first.token, T0 + 1);
      const third = await rotate(second.token, T0 + 2);

      await expect(service.revokeByToken(first.token, 'revoked')).resolves.toEqual({ sessionId: first.sessionId, userId });

      expect((await session(dataSource, first.sessionId)).revokedReason).toBe('revoked');
      await expectRejected(rotate(third.token, T0 + 3), 'revoked');
    });

    it('is silent for unknown and malformed tokens and touches no session', async () => {
      const { service, dataSource, userId } = await setup();
      const live = await service.create(userId, {}, T0);
      for (const token of [codec.generate(), 'abc', '', undefined, null, 7]) {
        await expect(service.revokeByToken(token)).resolves.toBeUndefined();
      }
      expect((await session(dataSource, live.sessionId)).revokedAt).toBeNull();
    });

    it('returns undefined for an already revoked session and keeps the first reason', async () => {
      const { service, rotate, dataSource, userId } = await setup({ REFRESH_REUSE_GRACE: '0' });
      const first = await service.create(userId, {}, T0);
      await rotate(first.token, T0);
      await expectRejected(rotate(first.token, T0 + 1), 'reused');

      await expect(service.revokeByToken(first.token, 'logout')).resolves.toBeUndefined();

      expect(await session(dataSource, first.sessionId)).toMatchObject({
        revokedAt: T0 + 1,
        revokedReason: 'refresh_token_reuse',
      });
    });
  });

  describe('revoke', () => {
    it('returns true once, then false; false for an unknown session', async () => {
      const { service, dataSource, userId } = await setup();
      const first = await service.create(userId, {}, T0);
      expect(await service.revoke(first.sessionId, 'logout', T0)).toBe(true);
      expect(await service.revoke(first.sessionId, 'revoked', T0 + 1)).toBe(false);
      expect(await service.revoke(randomUUID(), 'logout', T0)).toBe(false);
      expect(await session(dataSource, first.sessionId)).toMatchObject({ revokedAt: T0, revokedReason: 'logout' });
    });
  });

  describe('revokeOwn', () => {
    it("revokes one of the user's live sessions and no other", async () => {
      const { service, rotate, dataSource, cache, userId } = await setup();
      const mine = await service.create(userId, {}, T0);
      const other = await service.create(userId, {}, T0);

      await expect(service.revokeOwn(userId, mine.sessionId, T0 + 1)).resolves.toBe(true);

      expect(await session(dataSource, mine.sessionId)).toMatchObject({ revokedAt: T0 + 1, revokedReason: 'revoked' });
      await expectRejected(rotate(mine.token, T0 + 2), 'revoked');
      await expect(cache.activeUsername(mine.sessionId, userId)).resolves.toBeUndefined();
      expect((await session(dataSource, other.sessionId)).revokedAt).toBeNull();
    });

    it("refuses another user's session, an unknown one, a revoked one and an expired one", async () => {
      const { service, dataSource, userId } = await setup({ SESSION_MAX_AGE: '1h' });
      const otherUser = await insertUser(dataSource);
      const theirs = await service.create(otherUser, {}, T0);
      const expired = await service.create(userId, {}, T0);
      const revoked = await service.create(userId, {}, T0);
      await service.revoke(revoked.sessionId, 'logout', T0);

      await expect(service.revokeOwn(userId, theirs.sessionId, T0 + 1)).resolves.toBe(false);
      await expect(service.revokeOwn(userId, randomUUID(), T0 + 1)).resolves.toBe(false);
      await expect(service.revokeOwn(userId, revoked.sessionId, T0 + 1)).resolves.toBe(false);
      await expect(service.revokeOwn(userId, expired.sessionId, T0 + HOUR)).resolves.toBe(false);

      expect((await session(dataSource, theirs.sessionId)).revokedAt).toBeNull();
      expect(await session(dataSource, revoked.sessionId)).toMatchObject({ revokedAt: T0, revokedReason: 'logout' });
    });
  });

  describe('revokeAllForUser', () => {
    it("revokes every live session of the user except the one kept, and nobody else's", async () => {
      const { service, rotate, dataSource, userId } = await setup();
      const otherUser = await insertUser(dataSource);
      const a = await service.create(userId, {}, T0);
      const b = await service.create(userId, {}, T0);
      const kept = await service.create(userId, {}, T0);
      const alreadyRevoked = await service.create(userId, {}, T0);
      await service.revoke(alreadyRevoked.sessionId, 'logout', T0);
      const theirs = await service.create(otherUser, {}, T0);

      await expect(service.revokeAllForUser(userId, 'logout_all', kept.sessionId, T0 + 1)).resolves.toBe(2);

      for (const id of [a.sessionId, b.sessionId]) {
        expect(await session(dataSource, id)).toMatchObject({ revokedAt: T0 + 1, revokedReason: 'logout_all' });
      }
      expect(await session(dataSource, alreadyRevoked.sessionId)).toMatchObject({ revokedAt: T0, revokedReason: 'logout' });
      expect((await session(dataSource, kept.sessionId)).revokedAt).toBeNull();
      expect((await session(dataSource, theirs.sessionId)).revokedAt).toBeNull();
      await expectRejected(rotate(a.token, T0 + 2), 'revoked');
      await expect(rotate(kept.token, T0 + 2)).resolves.toMatchObject({ sessionId: kept.sessionId });
    });

    it('revokes all of them when none is kept', async () => {
      const { service, cache, userId } = await setup();
      const a = await service.create(userId, {}, T0);
      const b = await service.create(userId, {}, T0);
      await expect(cache.activeUsername(a.sessionId, userId)).resolves.toEqual(expect.any(String));

      await expect(service.revokeAllForUser(userId, 'password_changed', undefined, T0 + 1)).resolves.toBe(2);

      await expect(cache.activeUsername(a.sessionId, userId)).resolves.toBeUndefined();
      await expect(cache.activeUsername(b.sessionId, userId)).resolves.toBeUndefined();
    });
  });

  describe('listActive', () => {
    it('lists sessions that can still be refreshed, most recently used first', async () => {
      const { service, rotate, dataSource, userId } = await setup({ REFRESH_TOKEN_TTL: '1h', SESSION_MAX_AGE: '1d' });
      const otherUser = await insertUser(dataSource);
      const a = await service.create(userId, {}, T0);
      const b = await service.create(userId, {}, T0 + MINUTE);
      const c = await service.create(userId, {}, T0 + 2 * MINUTE);
      await rotate(b.token, T0 + 3 * MINUTE);
      const revoked = await service.create(userId, {}, T0);
      await service.revoke(revoked.sessionId, 'logout', T0);
      await service.create(otherUser, {}, T0);

      const ids = (await service.listActive(userId, T0 + 4 * MINUTE)).map((s) => s.id);
      expect(ids).toEqual([b.sessionId, c.sessionId, a.sessionId]);
    });

    it('leaves out sessions whose refresh tokens have all expired, and sessions past their absolute expiry', async () => {
      const { service, rotate, userId } = await setup({ REFRESH_TOKEN_TTL: '1h', SESSION_MAX_AGE: '2h' });
      const idle = await service.create(userId, {}, T0);
      const busy = await service.create(userId, {}, T0);
      await rotate(busy.token, T0 + 50 * MINUTE);

      expect((await service.listActive(userId, T0 + HOUR - 1)).map((s) => s.id).sort()).toEqual(
        [idle.sessionId, busy.sessionId].sort(),
      );
      expect((await service.listActive(userId, T0 + HOUR)).map((s) => s.id)).toEqual([busy.sessionId]);
      expect(await service.listActive(userId, T0 + 2 * HOUR)).toEqual([]);
    });
  });

  describe('purgeEnded', () => {
    it('deletes sessions (and their tokens) that ended longer ago than the retention, and keeps the rest', async () => {
      const { service, rotate, dataSource, userId } = await setup({ REFRESH_TOKEN_TTL: '7d', SESSION_MAX_AGE: '30d' });
      const now = T0 + 40 * DAY;
      const retention = DAY;

      // Ended before now - retention: revoked, past the absolute expiry, or idle with every token expired.
      const revoked = await service.create(userId, {}, now - 3 * DAY);
      await service.revoke(revoked.sessionId, 'logout', now - 3 * DAY + MINUTE);
      const expired = await service.create(userId, {}, T0);
      const idle = await service.create(userId, {}, now - 10 * DAY);
      // Still within the retention, or still usable.
      const revokedRecently = await service.create(userId, {}, now - 2 * HOUR);
      await service.revoke(revokedRecently.sessionId, 'logout', now - HOUR);
      const unusedButValid = await service.create(userId, {}, now - 2 * DAY);
      const rotated = await service.create(userId, {}, now - 8 * DAY);
      await rotate(rotated.token, now - 2 * DAY);

      const purged = await service.purgeEnded(retention, now);

      const remaining = (await dataSource.getRepository(Session).find()).map((s) => s.id).sort();
      expect(remaining).toEqual([revokedRecently.sessionId, unusedButValid.sessionId, rotated.sessionId].sort());
      expect(purged).toBe(3);
      for (const gone of [revoked, expired, idle]) {
        expect(await tokenRows(dataSource, gone.sessionId)).toEqual([]);
      }
      expect(await tokenRows(dataSource, rotated.sessionId)).toHaveLength(2);
    });

    it('does nothing when nothing has ended', async () => {
      const { service, dataSource, userId } = await setup();
      await service.create(userId, {}, T0);
      await expect(service.purgeEnded(DAY, T0 + HOUR)).resolves.toBe(0);
      expect(await dataSource.getRepository(Session).count()).toBe(1);
    });
  });
});
