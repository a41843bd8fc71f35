/** Failure counters for login throttling, keyed by IP or username. */
export interface LoginAttemptStore {
  /** Seconds until `key` is unblocked, or 0 when it is not blocked. */
  blockedFor(key: string, now?: number): Promise<number>;
  /**
   * Counts one failure in a window of `windowMs` from the first failure; the `limit`-th failure
   * blocks the key for `windowMs`.
   */
  recordFailure(key: string, limit: number, windowMs: number, now?: number): Promise<void>;
}

export const LOGIN_ATTEMPT_STORE = Symbol('LoginAttemptStore');

interface Counter {
  failures: number;
  windowEndsAt: number;
  blockedUntil: number;
}

/** In-process store: right for one instance; several instances need a shared one. */
export class MemoryLoginAttemptStore implements LoginAttemptStore {
  private readonly counters = new Map<string, Counter>();
  private readonly maxKeys: number;

  constructor(maxKeys = 100_000) {
    this.maxKeys = maxKeys;
  }

  async blockedFor(key: string, now = Date.now()): Promise<number> {
    const counter = this.counters.get(key);
    if (!counter || counter.blockedUntil <= now) return 0;
    return Math.max(1, Math.ceil((counter.blockedUntil - now) / 1000));
  }

  async recordFailure(key: string, limit: number, windowMs: number, now = Date.now()): Promise<void> {
    let counter = this.counters.get(key);
    if (!counter || (counter.windowEndsAt <= now && counter.blockedUntil <= now)) {
      if (this.counters.size >= this.maxKeys) this.evict(now);
      counter = { failures: 0, windowEndsAt: now + windowMs, blockedUntil: 0 };
      this.counters.set(key, counter);
    }
    counter.failures += 1;
    if (counter.failures >= limit) counter.blockedUntil = Math.max(counter.blockedUntil, now + windowMs);
  }

  /** Drops finished counters; if all are live (an attack on many keys), the oldest go first. */
  private evict(now: number): void {
    for (const [key, counter] of this.counters) {
      if (counter.windowEndsAt <= now && counter.blockedUntil <= now) this.counters.delete(key);
    }
    while (this.counters.size >= this.maxKeys) this.counters.delete(this.counters.keys().next().value!);
  }
}
