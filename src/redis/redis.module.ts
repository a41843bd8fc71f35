import { Global, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Redis } from 'ioredis';
import type { AppConfig } from '../config/app-config.js';

type RedisClass = typeof Redis;

/** The Redis connections, or nulls when REDIS_URL is not set (single-instance mode). */
export class RedisConnections implements OnApplicationShutdown {
  private readonly logger = new Logger('Redis');
  /** Commands. */
  readonly client: Redis | null;
  /** Subscriptions need a connection of their own. */
  readonly subscriber: Redis | null;

  /**
   * ioredis is loaded only when REDIS_URL is set: a single instance never needs it, and loading
   * it is ~40 ms of every cold start.
   */
  static async create(config: ConfigService<AppConfig, true>): Promise<RedisConnections> {
    const { url, prefix } = config.get('redis', { infer: true });
    const RedisClient = url ? (await import('ioredis')).Redis : undefined;
    return new RedisConnections(prefix, url && RedisClient ? { url, RedisClient } : undefined);
  }

  /** @param prefix Prefix for every key and channel we use. */
  constructor(
    readonly prefix: string,
    server?: { url: string; RedisClient: RedisClass },
  ) {
    this.client = server ? this.connect(server, 'client') : null;
    this.subscriber = server ? this.connect(server, 'subscriber') : null;
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([RedisConnections.close(this.client), RedisConnections.close(this.subscriber)]);
  }

  /**
   * QUIT lets a live connection finish its replies. A connection that is down has none to finish,
   * and QUIT fails on it at once (no offline queue) while its reconnect timer goes on retrying and
   * keeps the process alive: disconnect() ends it, timer included. A socket still connecting
   * closes a moment later; its 'end' is awaited, but never for more than a second.
   */
  private static async close(redis: Redis | null): Promise<void> {
    if (!redis) return;
    if (redis.status === 'ready') await redis.quit().catch(() => undefined);
    if (redis.status === 'end') return;
    const ended = new Promise<void>((resolve) => {
      redis.once('end', () => resolve());
      setTimeout(resolve, 1000).unref();
    });
    redis.disconnect();
    await ended;
  }

  private connect({ url, RedisClient }: { url: string; RedisClient: RedisClass }, role: string): Redis {
    const redis = new RedisClient(url, {
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
  providers: [
    {
      provide: RedisConnections,
      inject: [ConfigService],
      useFactory: (config: ConfigService<AppConfig, true>) => RedisConnections.create(config),
    },
  ],
  exports: [RedisConnections],
})
export class RedisModule {}
