import { describe, expect, it } from '@jest/globals';
import type { SessionRepository, SessionStanding } from './session.repository.js';
import { SessionStateCache, SESSION_STATE_TTL_MS } from './session-state.cache.js';

const SESSION = 'session-1';
const USER = 'user-1';
/** Now: the cache stamps entries with the real clock. */
const NOW = Date.now();
const IAT = Math.floor(NOW / 1000);

/** A repository whose one session row the test edits, and whose query it can hold open. */
function fakeRepository(row: SessionStanding) {
  let hold: Promise<void> | undefined;
  let queries = 0;
  const repository = {
    async findStanding(id: string) {
      queries++;
      const snapshot = { ...row };
      if (hold) await hold;
      return id === SESSION ? snapshot : undefined;
    },
  } as unknown as SessionRepository;
  return {
    repository,
    row,
    queries: () => queries,
    /** Makes the next queries read now and answer when `release` is called. */
    holdQueries() {
      let release!: () => void;
      hold = new Promise<void>((resolve) => (release = resolve));
      return () => {
        hold = undefined;
        release();
      };
    },
  };
}

const liveRow = (): SessionStanding => ({
  userId: USER,
  username: 'alice',
  revokedAt: null,
  expiresAt: NOW + 3_600_000,
  notBefore: 0,
});

describe('SessionStateCache: the per-user cut-off', () => {
  it('refuses a token issued before the cut-off read from the database, accepts one issued at it', async () => {
    const db = fakeRepository({ ...liveRow(), notBefore: (IAT + 1) * 1000 });
    const cache = new SessionStateCache(db.repository);
    await expect(cache.activeUsername(SESSION, USER, IAT, NOW)).resolves.toBeUndefined();
    await expect(cache.activeUsername(SESSION, USER, IAT + 1, NOW)).resolves.toBe('alice');
  });

  it('applies a cut-off marked here at once, without a query, to every cached session of the user only', async () => {
    const db = fakeRepository(liveRow());
    const cache = new SessionStateCache(db.repository);
    await expect(cache.activeUsername(SESSION, USER, IAT, NOW)).resolves.toBe('alice');
    cache.markUserCutOff('someone-else', (IAT + 1) * 1000, NOW);
    await expect(cache.activeUsername(SESSION, USER, IAT, NOW)).resolves.toBe('alice');
    cache.markUserCutOff(USER, (IAT + 1) * 1000, NOW);
    await expect(cache.activeUsername(SESSION, USER, IAT, NOW)).resolves.toBeUndefined();
    await expect(cache.activeUsername(SESSION, USER, IAT + 1, NOW)).resolves.toBe('alice');
    expect(db.queries()).toBe(1);
  });

  it('never moves a cut-off back: an older one marked later, or a stale row, does not undo a newer one', async () => {
    const db = fakeRepository(liveRow());
    const cache = new SessionStateCache(db.repository);
    await cache.activeUsername(SESSION, USER, IAT, NOW);
    cache.markUserCutOff(USER, (IAT + 5) * 1000, NOW);
    cache.markUserCutOff(USER, (IAT + 1) * 1000, NOW);
    await expect(cache.activeUsername(SESSION, USER, IAT + 4, NOW)).resolves.toBeUndefined();
    // The entry is re-read (TTL passed) from a row that has not seen the cut-off yet (replica lag, another writer).
    const later = Date.now() + SESSION_STATE_TTL_MS;
    await expect(cache.activeUsername(SESSION, USER, IAT + 4, later)).resolves.toBeUndefined();
  });

  it('keeps a cut-off marked while a query was in flight, though the query read the row before it', async () => {
    const db = fakeRepository(liveRow());
    const cache = new SessionStateCache(db.repository);
    const release = db.holdQueries();
    const inFlight = cache.activeUsername(SESSION, USER, IAT, NOW);
    cache.markUserCutOff(USER, (IAT + 1) * 1000, NOW);
    release();
    await expect(inFlight).resolves.toBeUndefined();
    await expect(cache.activeUsername(SESSION, USER, IAT, NOW)).resolves.toBeUndefined();
  });
});

describe('SessionStateCache.cachedUsername: the answer from memory alone', () => {
  it('is undefined until the state is loaded and once it is stale, and agrees with activeUsername in between', async () => {
    const db = fakeRepository(liveRow());
    const cache = new SessionStateCache(db.repository);
    expect(cache.cachedUsername(SESSION, USER, IAT, NOW)).toBeUndefined();
    await expect(cache.activeUsername(SESSION, USER, IAT, NOW)).resolves.toBe('alice');
    expect(cache.cachedUsername(SESSION, USER, IAT)).toBe('alice');
    expect(cache.cachedUsername(SESSION, 'another-user', IAT)).toBe(false);
    expect(cache.cachedUsername(SESSION, USER, IAT, Date.now() + SESSION_STATE_TTL_MS)).toBeUndefined();
    expect(db.queries()).toBe(1);
  });

  it('is false at once for a session revoked here, and for a token before a cut-off marked here', async () => {
    const db = fakeRepository(liveRow());
    const cache = new SessionStateCache(db.repository);
    await cache.activeUsername(SESSION, USER, IAT, NOW);
    cache.markUserCutOff(USER, (IAT + 1) * 1000);
    expect(cache.cachedUsername(SESSION, USER, IAT)).toBe(false);
    expect(cache.cachedUsername(SESSION, USER, IAT + 1)).toBe('alice');
    cache.markRevoked(SESSION);
    expect(cache.cachedUsername(SESSION, USER, IAT + 1)).toBe(false);
  });
});
