import { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { MemoryLoginAttemptStore, type LoginAttemptStore } from './login-attempt.store.js';

/** Atomic in Redis, so instances counting the same key at once add up exactly. KEYS[1] counter; ARGV[1] window ms. */
const RESERVE = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('PTTL', KEYS[1])}`;

const REFUND = `
if redis.call('EXISTS', KEYS[1]) == 1 and tonumber(redis.call('GET', KEYS[1])) > 0 then
  return redis.call('DECR', KEYS[1])
end
return 0`;

/**
 * Attempt counters shared by every instance through Redis. While Redis is unreachable, each
 * instance counts in memory instead: throttling stays on (per instance), logins keep working.
 */
export class RedisLoginAttemptStore implements LoginAttemptStore {
  private readonly logger = new Logger(RedisLoginAttemptStore.name);
  private readonly fallback = new MemoryLoginAttemptStore();

  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'nta:',
  ) {}

  async reserve(key: string, windowMs: number): Promise<{ count: number; resetInMs: number }> {
    try {
      const [count, ttl] = (await this.redis.eval(RESERVE, 1, this.key(key), windowMs)) as [number, number];
      return { count, resetInMs: ttl > 0 ? ttl : windowMs };
    } catch (error) {
      this.warn(error);
      return this.fallback.reserve(key, windowMs);
    }
  }

  async refund(key: string): Promise<void> {
    try {
      await this.redis.eval(REFUND, 1, this.key(key));
    } catch (error) {
      this.warn(error);
      await this.fallback.refund(key);
    }
  }

  private key(key: string): string {
    return `${this.prefix}${key}:attempts`;
  }

  private warn(error: unknown): void {
    this.logger.warn(`Redis unavailable, counting login attempts in memory: ${(error as Error).message}`);
  }
}
