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
  /** The secret was wrong: the error to throw (429 when the IP is over its limit), or undefined for the usual 401. */
  failed(): TooManyAttemptsException | undefined;
}

/**
 * Failed client authentications per client IP (IPv6: per /64), with the login limits
 * (LOGIN_MAX_FAILURES_PER_IP within LOGIN_THROTTLE_WINDOW) on counters of their own. A secret of
 * 256 random bits cannot be guessed anyway; the limit keeps anyone from trying cheaply, and
 * from using the endpoint as a free oracle for leaked or half-remembered secrets. There is no
 * per-client counter: client ids are not secret, and one would let anybody lock a resource
 * server out of its own feed. Each attempt is counted before the check (parallel guesses cannot
 * all pass) and refunded if it succeeds, as logins are.
 *
 * Over the limit, the right secret still passes and only wrong ones answer 429: otherwise anyone
 * sharing the resource server's address (a NAT, a proxy without TRUST_PROXY) could lock it out
 * of introspection and the feed with 20 bad guesses. Checking costs one SHA-256, and a 256-bit
 * secret is no less unguessable for it.
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

  /** Reserves an attempt, to be settled with succeeded() or failed() once the secret was checked. */
  async begin(ip: string | null | undefined): Promise<ClientAuthAttempt> {
    const key = `client:ip:${clientBucket(ip)}`;
    const { count, resetInMs } = await this.store.reserve(key, this.config.window * 1000);
    const limited = count > this.config.maxFailuresPerIp;
    // Over the limit, nothing is counted beyond it: the key stays at its limit until the window ends.
    if (limited) await this.store.refund(key);
    return {
      succeeded: () => (limited ? Promise.resolve() : this.store.refund(key)),
      failed: () =>
        limited ? new TooManyAttemptsException(Math.max(1, Math.ceil(resetInMs / 1000)), THROTTLED_WHAT) : undefined,
    };
  }
}
