import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TooManyAttemptsException } from '../common/http/too-many-attempts.exception.js';
import type { AppConfig, ThrottleConfig } from '../config/app-config.js';
import { LOGIN_ATTEMPT_STORE, type LoginAttemptStore } from './login-attempt.store.js';
import { clientBucket } from '../common/http/ip-bucket.js';

/**
 * Limits registrations per client IP (IPv6 by /64, as the login throttle counts), on the login
 * throttle's counters (in memory, or Redis shared by every instance). Every attempt counts,
 * successful or not: each successful one cost an argon2 hash and made an account that can log in
 * and hash again, and a taken name is an answer to a guess. RegisterThrottleGuard applies it.
 */
@Injectable()
export class RegisterThrottleService {
  private readonly config: ThrottleConfig;

  constructor(
    @Inject(LOGIN_ATTEMPT_STORE) private readonly store: LoginAttemptStore,
    config: ConfigService<AppConfig, true>,
  ) {
    this.config = config.get('throttle', { infer: true });
  }

  /** Counts a registration attempt; throws TooManyAttemptsException (429) over REGISTER_MAX_PER_IP. */
  async admit(ip: string | undefined | null): Promise<void> {
    const key = `register:ip:${clientBucket(ip)}`;
    const { count, resetInMs } = await this.store.reserve(key, this.config.registerWindow * 1000);
    if (count <= this.config.registerMaxPerIp) return;
    // A refused attempt did nothing, so it does not count: the key stays at its limit and the
    // block ends with the window, however long the client keeps trying.
    await this.store.refund(key);
    throw new TooManyAttemptsException(Math.max(1, Math.ceil(resetInMs / 1000)), 'registrations from this address');
  }
}
