import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TooManyAttemptsException } from '../common/http/too-many-attempts.exception.js';
import type { AppConfig, ThrottleConfig } from '../config/app-config.js';
import { LOGIN_ATTEMPT_STORE, type LoginAttemptStore } from './login-attempt.store.js';

/**
 * Counts failed logins per client IP and per username. Once either reaches its limit, further
 * attempts get 429 with Retry-After until the block ends, whether the password is right or not,
 * so guessing cannot go on in the background.
 */
@Injectable()
export class LoginThrottle {
  private readonly config: ThrottleConfig;

  constructor(
    @Inject(LOGIN_ATTEMPT_STORE) private readonly store: LoginAttemptStore,
    config: ConfigService<AppConfig, true>,
  ) {
    this.config = config.get('throttle', { infer: true });
  }

  /** Throws TooManyAttemptsException when the IP or the username is blocked. */
  async assertAllowed(ip: string | undefined, username: string): Promise<void> {
    const [ipKey, userKey] = this.keys(ip, username);
    const retryAfter = Math.max(await this.store.blockedFor(ipKey), await this.store.blockedFor(userKey));
    if (retryAfter > 0) throw new TooManyAttemptsException(retryAfter);
  }

  async recordFailure(ip: string | undefined, username: string): Promise<void> {
    const windowMs = this.config.window * 1000;
    const [ipKey, userKey] = this.keys(ip, username);
    await this.store.recordFailure(ipKey, this.config.maxFailuresPerIp, windowMs);
    await this.store.recordFailure(userKey, this.config.maxFailuresPerUser, windowMs);
  }

  private keys(ip: string | undefined, username: string): [string, string] {
    // Usernames are hashed so the store (and Redis, when shared) holds no list of attempted names.
    const user = createHash('sha256').update(username.toLowerCase()).digest('base64url');
    return [`login:ip:${ip ?? 'unknown'}`, `login:user:${user}`];
  }
}
