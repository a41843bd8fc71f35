import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TooManyAttemptsException } from '../common/http/too-many-attempts.exception.js';
import { ipBucket } from '../common/http/ip-bucket.js';
import type { AppConfig, ThrottleConfig } from '../config/app-config.js';
import { LOGIN_ATTEMPT_STORE, type LoginAttemptStore } from './login-attempt.store.js';

/** A reserved attempt: call `succeeded()` when the password was right, so it does not count. */
export interface LoginAttempt {
  succeeded(): Promise<void>;
}

/**
 * Limits failed password checks per client IP and per username. Each attempt is counted before
 * the (slow) password check and refunded if it succeeds, so parallel guesses cannot all pass
 * before the first failure is recorded. Over either limit, attempts get 429 with Retry-After
 * until the window ends, whether the password is right or not.
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
   * Reserves an attempt; throws TooManyAttemptsException when the IP or the username is over its limit.
   *
   * The IP is reserved first and the username only if the IP is within its limit: a blocked IP
   * then gets its cheap 429s without creating or growing a counter per username it sprays (which
   * would fill the store). An attempt refused for the username gives its IP reservation back, so
   * a refused attempt leaves no count under either key. Both reservations still happen before
   * the password check, so parallel bursts cannot slip past either limit.
   */
  async begin(ip: string | undefined | null, username: string): Promise<LoginAttempt> {
    const windowMs = this.config.window * 1000;
    const [ipKey, userKey] = this.keys(ip, username);

    const byIp = await this.store.reserve(ipKey, windowMs);
    if (byIp.count > this.config.maxFailuresPerIp) {
      // A refused attempt checked no password, so it does not count; the key stays at its limit.
      await this.store.refund(ipKey);
      throw this.tooMany(byIp.resetInMs);
    }

    let byUser: { count: number; resetInMs: number };
    try {
      byUser = await this.store.reserve(userKey, windowMs);
    } catch (error) {
      await this.store.refund(ipKey);
      throw error;
    }
    const refund = async () => {
      await Promise.all([this.store.refund(ipKey), this.store.refund(userKey)]);
    };
    if (byUser.count > this.config.maxFailuresPerUser) {
      await refund();
      throw this.tooMany(byUser.resetInMs);
    }
    return { succeeded: refund };
  }

  /**
   * What makes two refused attempts "the same" for the audit log: the client's IP (by its /64 for
   * IPv6) and the throttle window they fall in, counted in fixed windows so every instance agrees.
   */
  refusalScope(ip: string | undefined | null, now = Date.now()): string {
    return `${ip ? ipBucket(ip) : 'unknown'}@${Math.floor(now / (this.config.window * 1000))}`;
  }

  private tooMany(retryAfterMs: number): TooManyAttemptsException {
    return new TooManyAttemptsException(Math.max(1, Math.ceil(retryAfterMs / 1000)));
  }

  private keys(ip: string | undefined | null, username: string): [string, string] {
    // Usernames are hashed so the store (and Redis, when shared) holds no list of attempted names.
    const user = createHash('sha256').update(username.toLowerCase()).digest('base64url');
    return [`login:ip:${ip ? ipBucket(ip) : 'unknown'}`, `login:user:${user}`];
  }
}
