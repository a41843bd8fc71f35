import { Global, Inject, Injectable, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Redis } from 'ioredis';
import type { AppConfig } from '../config/app-config.js';

/** The Redis connections, or nulls when REDIS_URL is not set (single-instance mode). */
@Injectable()
export class RedisConnections implements OnApplicationShutdown {
  private readonly logger = new Logger('Redis');
  /** Commands. */
  readonly client: Redis | null;
  /** Subscriptions need a connection of their own. */
  readonly subscriber: Redis | null;
  /** Prefix for every key and channel we use. */
  readonly prefix: string;

  constructor(@Inject(ConfigService) config: ConfigService<AppConfig, true>) {
    const { url, prefix } = config.get('redis', { infer: true });
    this.prefix = prefix;
    this.client = url ? this.connect(url, 'client') : null;
    this.subscriber = url ? this.connect(url, 'subscriber') : null;
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.client?.quit().catch(() => undefined), this.subscriber?.quit().catch(() => undefined)]);
  }

  private connect(url: string, role: string): Redis {
    const redis = new Redis(url, {
      // While Redis is down, commands fail at once (callers fall back) instead of queueing.
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      enableOfflineQueue: false,
    });
    let reported = false;
    redis.on('error', (error: Error) => {
      if (!reported) this.logger.error(`Redis ${role} connection error: ${error.message}`);
      reported = true;
    });
    redis.on('ready', () => {
      if (reported) this.logger.log(`Redis ${role} connection restored`);
      reported = false;
    });
    return redis;
  }
}

@Global()
@Module({
  providers: [RedisConnections],
  exports: [RedisConnections],
})
export class RedisModule {}
