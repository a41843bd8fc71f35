import { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { MemoryLoginAttemptStore, type LoginAttemptStore } from './login-attempt.store.js';

/**
 * Counts a failure and, at the limit, sets the block key; atomic in Redis, so instances that
 * count the same key at once add up exactly.
 * KEYS[1] counter, KEYS[2] block; ARGV[1] limit, ARGV[2] window ms.
 */
const RECORD_FAILURE = `
local failures = redis.call('INCR', KEYS[1])
if failures == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if failures >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
end
return failures`;

/**
 * Failure counters shared by every instance through Redis. While Redis is unreachable, each
 * instance counts in memory instead: throttling stays on (per instance), logins keep working.
 */
export class RedisLoginAttemptStore implements LoginAttemptStore {
  private readonly logger = new Logger(RedisLoginAttemptStore.name);
  private readonly fallback = new MemoryLoginAttemptStore();

  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'nta:',
  ) {}

  async blockedFor(key: string): Promise<number> {
    try {
      const ttl = await this.redis.pttl(`${this.prefix}${key}:blocked`);
      return Math.max(ttl > 0 ? Math.ceil(ttl / 1000) : 0, await this.fallback.blockedFor(key));
    } catch (error) {
      this.warn(error);
      return this.fallback.blockedFor(key);
    }
  }

  async recordFailure(key: string, limit: number, windowMs: number): Promise<void> {
    try {
      await this.redis.eval(RECORD_FAILURE, 2, `${this.prefix}${key}:failures`, `${this.prefix}${key}:blocked`, limit, windowMs);
    } catch (error) {
      this.warn(error);
      await this.fallback.recordFailure(key, limit, windowMs);
    }
  }

  private warn(error: unknown): void {
    this.logger.warn(`Redis unavailable, counting login failures in memory: ${(error as Error).message}`);
  }
}
