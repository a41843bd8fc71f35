import { randomUUID } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import {
  allStoredText,
  DAY,
  expectRejected,
  HOUR,
  insertUser,
  MINUTE,
  session,
  T0,
  tokenRows,
  sessionsFixturePerTest,
} from '../../test/utils/sessions-fixture.js';
import { RefreshToken } from './refresh-token.entity.js';
import { refreshTokenCodec as codec } from './refresh-token.codec.js';
import { Session } from './session.entity.js';

const setup = sessionsFixturePerTest();

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
        scope: null,
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
      expect(rows[0]).toMatchObject({
        parentId: null,
        nonce: null,
        tokenHash: codec.hash(issued.token),
        createdAt: T0,
      });
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

      await expect(service.revokeByToken(first.token, 'revoked')).resolves.toEqual({
        sessionId: first.sessionId,
        userId,
      });

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
      await expect(cache.activeUsername(mine.sessionId, userId, Date.now() / 1000)).resolves.toBeUndefined();
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
      expect(await session(dataSource, alreadyRevoked.sessionId)).toMatchObject({
        revokedAt: T0,
        revokedReason: 'logout',
      });
      expect((await session(dataSource, kept.sessionId)).revokedAt).toBeNull();
      expect((await session(dataSource, theirs.sessionId)).revokedAt).toBeNull();
      await expectRejected(rotate(a.token, T0 + 2), 'revoked');
      await expect(rotate(kept.token, T0 + 2)).resolves.toMatchObject({ sessionId: kept.sessionId });
    });

    it("counts a disabled user's sessions as ended, even before they are revoked", async () => {
      const { service, cache, dataSource, userId } = await setup();
      const a = await service.create(userId, {}, T0);
      await dataSource.query('UPDATE users SET disabled_at = ? WHERE id = ?', [T0 + 1, userId]);
      await expect(cache.activeUsername(a.sessionId, userId, Date.now() / 1000)).resolves.toBeUndefined();
    });

    it('revokes all of them when none is kept', async () => {
      const { service, cache, userId } = await setup();
      const a = await service.create(userId, {}, T0);
      const b = await service.create(userId, {}, T0);
      await expect(cache.activeUsername(a.sessionId, userId, Date.now() / 1000)).resolves.toEqual(expect.any(String));

      await expect(service.revokeAllForUser(userId, 'password_changed', undefined, T0 + 1)).resolves.toBe(2);

      await expect(cache.activeUsername(a.sessionId, userId, Date.now() / 1000)).resolves.toBeUndefined();
      await expect(cache.activeUsername(b.sessionId, userId, Date.now() / 1000)).resolves.toBeUndefined();
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
