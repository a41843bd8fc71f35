import { describe, expect, it } from '@jest/globals';
import {
  allStoredText,
  DAY,
  expectRejected,
  HOUR,
  MINUTE,
  SECOND,
  session,
  T0,
  tokenRows,
  sessionsFixturePerTest,
} from '../../test/utils/sessions-fixture.js';
import { AuditEvent } from '../audit/audit-event.entity.js';
import { InvalidScopeError } from '../common/scope.js';
import { InvalidRefreshTokenError } from './invalid-refresh-token.error.js';
import { refreshTokenCodec as codec } from './refresh-token.codec.js';

const setup = sessionsFixturePerTest();

describe('RefreshTokenRotationService', () => {
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

    it("hands back the session's grant, narrowed or not (the caller signs the narrower access token)", async () => {
      const { service, rotate, dataSource, userId } = await setup();
      const first = (await service.create(userId, {}, T0, undefined, 'notes:read notes:write'))!;
      expect(first.scope).toBe('notes:read notes:write');
      const second = await rotate(first.token, T0 + MINUTE, {}, ['notes:read']);
      expect(second.scope).toBe('notes:read notes:write');
      expect((await session(dataSource, first.sessionId)).scope).toBe('notes:read notes:write');
    });

    it('refuses a scope beyond the grant without using up the token, outside and inside the grace window', async () => {
      const { service, rotate, dataSource, userId } = await setup({ REFRESH_REUSE_GRACE: '10s' });
      const first = (await service.create(userId, {}, T0, undefined, 'notes:read'))!;
      await expect(rotate(first.token, T0 + MINUTE, {}, ['notes:write'])).rejects.toThrow(InvalidScopeError);
      expect(await tokenRows(dataSource, first.sessionId)).toHaveLength(1);

      const second = await rotate(first.token, T0 + 2 * MINUTE);
      // A grace retry asking for more than the grant: refused, and the retry still works after.
      await expect(rotate(first.token, T0 + 2 * MINUTE + SECOND, {}, ['notes:write'])).rejects.toThrow(
        InvalidScopeError,
      );
      expect((await rotate(first.token, T0 + 2 * MINUTE + 2 * SECOND)).token).toBe(second.token);
      expect((await session(dataSource, first.sessionId)).revokedAt).toBeNull();
    });

    it('takes a reused token for reuse even when it asks for a scope beyond the grant', async () => {
      const { service, rotate, dataSource, userId } = await setup({ REFRESH_REUSE_GRACE: '0' });
      const first = (await service.create(userId, {}, T0, undefined, 'notes:read'))!;
      await rotate(first.token, T0 + MINUTE);
      await expectRejected(rotate(first.token, T0 + 2 * MINUTE, {}, ['admin']), 'reused');
      expect((await session(dataSource, first.sessionId)).revokedReason).toBe('refresh_token_reuse');
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
        expect(events[0]).toMatchObject({
          userId,
          sessionId: first.sessionId,
          ip: thief.ip,
          userAgent: thief.userAgent,
        });
        const stored = JSON.stringify(await dataSource.query('SELECT * FROM audit_events'));
        expect(stored).not.toContain(first.token);
      });

      it('marks the session dead for access-token checks at once', async () => {
        const { service, rotate, cache, userId } = await setup({ REFRESH_REUSE_GRACE: '0' });
        const first = await service.create(userId, {}, T0);
        await rotate(first.token, T0);
        // Timestamps are in the future (T0), so the session is not past its expiry for the cache's clock.
        await expect(cache.activeUsername(first.sessionId, userId, Date.now() / 1000)).resolves.toEqual(
          expect.any(String),
        );
        await expectRejected(rotate(first.token, T0 + 1), 'reused');
        await expect(cache.activeUsername(first.sessionId, userId, Date.now() / 1000)).resolves.toBeUndefined();
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
        const { service, rotate, dataSource, userId } = await setup({
          REFRESH_TOKEN_TTL: '1h',
          SESSION_MAX_AGE: '30d',
        });
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
});
