import { Logger } from '@nestjs/common';

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
  private readonly logger = new Logger(MemoryLoginAttemptStore.name);
  private readonly counters = new Map<string, Counter>();
  /** Shared counters for keys that found the store full (see reserve), outside maxKeys. */
  private readonly overflow = new Map<string, Counter>();
  /**
   * Counters of every password check ("checks:…"), apart from the failure counters: successful
   * logins leave them behind for the whole window, and they must never crowd failure counters
   * out of the store (which would put every new user on one shared, quickly exhausted counter).
   */
  private readonly checks = new Map<string, Counter>();
  private nextChecksSweepAt = 0;
  /** No counter's window ends before this, so a sweep before then would free nothing. */
  private nextSweepAt = 0;
  /** Last "store full" warning, so a flood of new keys logs once per window, not per request. */
  private warnedFullUntil = 0;

  constructor(private readonly maxKeys = 100_000) {}

  /** Number of keys tracked (live or not yet swept), failure and check counters together. */
  get size(): number {
    return this.counters.size + this.checks.size;
  }

  async reserve(key: string, windowMs: number, now = Date.now()): Promise<{ count: number; resetInMs: number }> {
    if (isCheckKey(key)) return this.reserveCheck(key, windowMs, now);
    if (!this.counters.has(key) && this.counters.size >= this.maxKeys) {
      this.sweep(now);
      if (this.counters.size >= this.maxKeys) {
        // Full of live counters that have failures: an attack spraying many keys. Evicting any of
        // them would hand its attempts back (the victim's counter, made early, would go first),
        // and leaving new keys uncounted would give every fresh IP and username unlimited
        // guesses. So new keys share one overflow counter per kind of key ("login:ip:",
        // "login:user:"), under the same limits: while the attack lasts, untracked users and
        // addresses may get 429s sooner (a few failures among all of them block them all until
        // the window ends), but nobody gets more guesses than the limit.
        this.warnFull(now, windowMs);
        return this.bump(this.overflow, overflowKeyOf(key), windowMs, now);
      }
    }
    const reserved = this.bump(this.counters, key, windowMs, now);
    this.nextSweepAt = Math.min(this.nextSweepAt, now + reserved.resetInMs);
    return reserved;
  }

  async refund(key: string, now = Date.now()): Promise<void> {
    // A key reserved while the store was full was counted on its overflow counter (check keys have none).
    const [map, mapKey] = isCheckKey(key)
      ? [this.checks, key]
      : this.counters.has(key)
        ? [this.counters, key]
        : [this.overflow, overflowKeyOf(key)];
    const counter = map.get(mapKey);
    if (!counter) return;
    if (counter.windowEndsAt > now && counter.count > 0) counter.count -= 1;
    // Nothing left to count (or the window is over): free the slot rather than keep an empty entry.
    if (counter.count <= 0 || counter.windowEndsAt <= now) map.delete(mapKey);
  }

  /**
   * A check counter. When the check table is full of live counters, a new key goes uncounted
   * (count 1) rather than onto a shared counter: these limits bound the work one client causes,
   * which the password-hash queue's fair shares bound as well, while the guess limits (failure
   * counters) stay exact. Failing closed here would lock every new user out during a flood.
   */
  private reserveCheck(key: string, windowMs: number, now: number): { count: number; resetInMs: number } {
    if (!this.checks.has(key) && this.checks.size >= this.maxKeys) {
      if (now >= this.nextChecksSweepAt) this.nextChecksSweepAt = sweepTable(this.checks, now);
      if (this.checks.size >= this.maxKeys) {
        this.warnFull(now, windowMs);
        return { count: 1, resetInMs: windowMs };
      }
    }
    const reserved = this.bump(this.checks, key, windowMs, now);
    this.nextChecksSweepAt = Math.min(this.nextChecksSweepAt, now + reserved.resetInMs);
    return reserved;
  }

  /**
   * One attempt on the key's counter in `map`, which starts over (in its own slot) when its window
   * has ended. No await between read and write: one reservation at a time, even under a burst.
   */
  private bump(
    map: Map<string, Counter>,
    key: string,
    windowMs: number,
    now: number,
  ): { count: number; resetInMs: number } {
    let counter = map.get(key);
    if (!counter || counter.windowEndsAt <= now) {
      counter = { count: 0, windowEndsAt: now + windowMs };
      map.set(key, counter);
    }
    counter.count += 1;
    return { count: counter.count, resetInMs: counter.windowEndsAt - now };
  }

  /**
   * Drops finished windows and empty counters; never a live counter with failures. Runs only
   * when a window may have ended since the last sweep, so a flood of new keys against a full
   * store does not rescan every entry on every request.
   */
  private sweep(now: number): void {
    if (now < this.nextSweepAt) return;
    this.nextSweepAt = sweepTable(this.counters, now);
  }

  private warnFull(now: number, windowMs: number): void {
    if (now < this.warnedFullUntil) return;
    this.warnedFullUntil = now + windowMs;
    this.logger.warn(
      `Login attempt store full (${this.maxKeys} live keys of one table): new IPs and usernames share one failure counter per kind, and their password checks go uncounted, until windows end; existing counters still block`,
    );
  }
}

/**
 * "login:ip:203.0.113.9" → "login:ip:*": one overflow counter per kind of key. The kind is the
 * first two segments, not everything up to the last colon: an IPv6 bucket ("2001:db8::/64") has
 * colons of its own, and cutting there would give every /64 an overflow counter of its own.
 */
export function overflowKeyOf(key: string): string {
  return `${key.split(':', 2).join(':')}:*`;
}

/** Password-check counters ("checks:ip:…", "checks:user:…"), as opposed to failure counters. */
function isCheckKey(key: string): boolean {
  return key.startsWith('checks:');
}

/** Drops finished windows and empty counters from `table`; returns when the next window ends. */
function sweepTable(table: Map<string, Counter>, now: number): number {
  let next = Number.POSITIVE_INFINITY;
  for (const [key, counter] of table) {
    if (counter.windowEndsAt <= now || counter.count <= 0) table.delete(key);
    else next = Math.min(next, counter.windowEndsAt);
  }
  return next;
}
