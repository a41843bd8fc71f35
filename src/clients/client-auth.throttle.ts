import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { LOGIN_ATTEMPT_STORE, type LoginAttemptStore } from '../auth/login-attempt.store.js';
import { clientBucket } from '../common/http/ip-bucket.js';
import { TooManyAttemptsException } from '../common/http/too-many-attempts.exception.js';
import type { AppConfig, ThrottleConfig } from '../config/app-config.js';

/** What the 429's message says there were too many of. */
export const THROTTLED_WHAT = 'failed client authentications from this address';

/** A reserved client-authentication attempt, settled once the secret was checked. */
export interface ClientAuthAttempt {
  /** The secret was right: the attempt does not count as a failure. */
  succeeded(): Promise<void>;
}

/**
 * Failed client authentications per client IP (IPv6: per /64), with the login limits
 * (LOGIN_MAX_FAILURES_PER_IP within LOGIN_THROTTLE_WINDOW) on counters of their own. A secret of
 * 256 random bits cannot be guessed anyway; the limit keeps anyone from trying cheaply, and
 * from using the endpoint as a free oracle for leaked or half-remembered secrets. There is no
 * per-client counter: client ids are not secret, and one would let anybody lock a resource
 * server out of its own feed. Each attempt is counted before the check (parallel guesses cannot
 * all pass) and refunded if it succeeds, as logins are.
 */
@Injectable()
export class ClientAuthThrottle {
  private readonly config: ThrottleConfig;

  constructor(
    @Inject(LOGIN_ATTEMPT_STORE) private readonly store: LoginAttemptStore,
    config: ConfigService<AppConfig, true>,
  ) {
    this.config = config.get('throttle', { infer: true });
  }

  /** Reserves an attempt; throws TooManyAttemptsException (429, Retry-After) when the IP is over its limit. */
  async begin(ip: string | null | undefined): Promise<ClientAuthAttempt> {
    const key = `client:ip:${clientBucket(ip)}`;
    const { count, resetInMs } = await this.store.reserve(key, this.config.window * 1000);
    if (count > this.config.maxFailuresPerIp) {
      // Refused without a check, so it is no failure: the key stays at its limit, not beyond.
      await this.store.refund(key);
      throw new TooManyAttemptsException(Math.max(1, Math.ceil(resetInMs / 1000)), THROTTLED_WHAT);
    }
    return { succeeded: () => this.store.refund(key) };
  }
}
