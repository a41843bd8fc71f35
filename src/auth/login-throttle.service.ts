import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TooManyAttemptsException } from '../common/http/too-many-attempts.exception.js';
import { clientBucket } from '../common/http/ip-bucket.js';
import type { AppConfig, ThrottleConfig } from '../config/app-config.js';
import { LOGIN_ATTEMPT_STORE, type LoginAttemptStore } from './login-attempt.store.js';

/** A reserved attempt, to be settled once the password check is over (or did not happen). */
export interface LoginAttempt {
  /** The password was right: the attempt does not count as a failure (it still counts as a check). */
  succeeded(): Promise<void>;
  /** No password was checked (hashing refused it): the attempt counts as nothing at all. */
  notChecked(): Promise<void>;
}

/** One counter an attempt is reserved on, and what is refunded when. */
interface Limit {
  key: string;
  max: number;
  what: string;
  /** Failure counters are refunded by a success; check counters only when no password was checked. */
  failuresOnly: boolean;
}

/**
 * Limits password checks per client IP and per username, with two counters each: failed checks
 * (LOGIN_MAX_FAILURES_PER_*, against guessing) and all checks, right or wrong
 * (LOGIN_MAX_PER_*, against one client spending everyone's hashing capacity with a password it
 * knows). Each attempt is counted before the (slow) password check, so parallel guesses cannot
 * all pass before the first failure is recorded; a failure counter is refunded if it succeeds.
 * Over any limit, attempts get 429 with Retry-After until the window ends, without hashing.
 */
@Injectable()
export class LoginThrottleService {
  private readonly config: ThrottleConfig;

  constructor(
    @Inject(LOGIN_ATTEMPT_STORE) private readonly store: LoginAttemptStore,
    config: ConfigService<AppConfig, true>,
  ) {
    this.config = config.get('throttle', { infer: true });
  }

  /**
   * Reserves an attempt; throws TooManyAttemptsException when the IP or the username is over a limit.
   *
   * The IP's counters are reserved first and the username's only if the IP is within its limits:
   * a blocked IP then gets its cheap 429s without creating or growing counters per username it
   * sprays (which would fill the store). A refused attempt gives back everything it reserved, so
   * it leaves no count under any key. All reservations still happen before the password check,
   * so parallel bursts cannot slip past any limit.
   */
  async begin(ip: string | undefined | null, username: string): Promise<LoginAttempt> {
    const windowMs = this.config.window * 1000;
    const reserved: Limit[] = [];
    const refund = async (limits: Limit[]) => {
      await Promise.all(limits.map((limit) => this.store.refund(limit.key)));
    };
    try {
      for (const limit of this.limits(ip, username)) {
        const { count, resetInMs } = await this.store.reserve(limit.key, windowMs);
        reserved.push(limit);
        // A refused attempt checked no password, so it does not count; the key stays at its limit.
        if (count > limit.max) throw new TooManyAttemptsException(Math.max(1, Math.ceil(resetInMs / 1000)), limit.what);
      }
    } catch (error) {
      await refund(reserved);
      throw error;
    }
    return {
      succeeded: () => refund(reserved.filter((limit) => limit.failuresOnly)),
      notChecked: () => refund(reserved),
    };
  }

  /**
   * What makes two refused attempts against one username "the same" for the audit log: the
   * throttle window they fall in, counted in fixed windows so every instance agrees. The client's
   * IP is not part of it: an attacker with many addresses still makes one row, which lists them.
   */
  refusalScope(now = Date.now()): string {
    return `@${Math.floor(now / (this.config.window * 1000))}`;
  }

  /** The IP's counters first, then the username's (see begin). */
  private limits(ip: string | undefined | null, username: string): Limit[] {
    const bucket = clientBucket(ip);
    // Usernames are hashed so the store (and Redis, when shared) holds no list of attempted names.
    const user = createHash('sha256').update(username.toLowerCase()).digest('base64url');
    const { maxFailuresPerIp, maxFailuresPerUser, maxChecksPerIp, maxChecksPerUser } = this.config;
    return [
      { key: `login:ip:${bucket}`, max: maxFailuresPerIp, what: 'failed login attempts', failuresOnly: true },
      {
        key: `checks:ip:${bucket}`,
        max: maxChecksPerIp,
        what: 'login attempts from this address',
        failuresOnly: false,
      },
      { key: `login:user:${user}`, max: maxFailuresPerUser, what: 'failed login attempts', failuresOnly: true },
      {
        key: `checks:user:${user}`,
        max: maxChecksPerUser,
        what: 'login attempts for this account',
        failuresOnly: false,
      },
    ];
  }
}
