/**
 * Attempt counters for login throttling, keyed by IP or username. An attempt is reserved before
 * the password is checked (so a burst of parallel guesses cannot all slip past the limit) and
 * refunded when it succeeds: only failures stay counted.
 */
export interface LoginAttemptStore {
  /**
   * Counts one attempt in a window of `windowMs` that starts with the first one; returns the
   * count including this attempt and the milliseconds until the window ends.
   */
  reserve(key: string, windowMs: number, now?: number): Promise<{ count: number; resetInMs: number }>;
  /** Takes back one reserved attempt (it succeeded). */
  refund(key: string, now?: number): Promise<void>;
}

export const LOGIN_ATTEMPT_STORE = Symbol('LoginAttemptStore');

interface Counter {
  count: number;
  windowEndsAt: number;
}

/** In-process store: right for one instance; several instances need a shared one. */
export class MemoryLoginAttemptStore implements LoginAttemptStore {
  private readonly counters = new Map<string, Counter>();

  constructor(private readonly maxKeys = 100_000) {}

  async reserve(key: string, windowMs: number, now = Date.now()): Promise<{ count: number; resetInMs: number }> {
    let counter = this.counters.get(key);
    if (!counter || counter.windowEndsAt <= now) {
      if (this.counters.size >= this.maxKeys) this.evict(now);
      counter = { count: 0, windowEndsAt: now + windowMs };
      this.counters.set(key, counter);
    }
    // No await between read and write: one reservation at a time, even under a burst.
    counter.count += 1;
    return { count: counter.count, resetInMs: counter.windowEndsAt - now };
  }

  async refund(key: string, now = Date.now()): Promise<void> {
    const counter = this.counters.get(key);
    if (counter && counter.windowEndsAt > now && counter.count > 0) counter.count -= 1;
  }

  /** Drops finished windows; if all are live (an attack on many keys), the oldest go first. */
  private evict(now: number): void {
    for (const [key, counter] of this.counters) {
      if (counter.windowEndsAt <= now) this.counters.delete(key);
    }
    while (this.counters.size >= this.maxKeys) this.counters.delete(this.counters.keys().next().value!);
  }
}
