import { Injectable, Logger } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { RedisConnections } from '../redis/redis.module.js';
import { HealthTransitions } from './health-transitions.js';

/** Redis is up when the command connection answers PING; checked only when REDIS_URL is set. */
@Injectable()
export class RedisHealthIndicator {
  private readonly transitions = new HealthTransitions(new Logger(RedisHealthIndicator.name), 'Redis');

  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly redis: RedisConnections,
  ) {}

  /** False in single-instance mode (no REDIS_URL): there is nothing to check. */
  get configured(): boolean {
    return this.redis.client !== null;
  }

  async check(key: 'redis'): Promise<HealthIndicatorResult<'redis'>> {
    const client = this.redis.client;
    // Without the offline queue, PING fails at once while the connection is down, instead of waiting.
    const result = await this.indicators
      .check(key)
      .attempt(async () => {
        if (!client) throw new Error('REDIS_URL is not set');
        const reply = await client.ping();
        if (reply !== 'PONG') throw new Error(`unexpected PING reply ${JSON.stringify(reply).slice(0, 40)}`);
      })
      .withTimeout(1500);
    return this.transitions.publish(key, result);
  }
}
