import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { RedisConnections } from '../redis/redis.module.js';
import { RevocationSignal } from '../revocations/revocation.signal.js';
import { SessionStateCache } from './session-state.cache.js';

/** How far ahead of our clock a cut-off from the bus may be (a whole second plus clock skew). */
const MAX_CUT_OFF_AHEAD_MS = 5_000;

type RevocationMessage = { session: string } | { user: string; keep?: string } | { cutOff: string; notBefore: number };

/**
 * Tells every instance about revocations at once (Redis pub/sub), so their session-state caches
 * drop the session without waiting for the cache TTL. Without Redis this is a no-op: the local
 * cache is updated by SessionsService and other processes catch up within the TTL.
 *
 * Every message also means "new revocation feed entries are committed": the feed of each
 * instance reads them at once (RevocationSignal) instead of at its next poll of the table.
 */
@Injectable()
export class SessionRevocationBus implements OnModuleInit {
  private readonly logger = new Logger(SessionRevocationBus.name);
  private readonly channel: string;

  constructor(
    private readonly redis: RedisConnections,
    private readonly cache: SessionStateCache,
    private readonly feed: RevocationSignal,
  ) {
    this.channel = `${redis.prefix}session-revoked`;
  }

  async onModuleInit(): Promise<void> {
    const subscriber = this.redis.subscriber;
    if (!subscriber) return;
    subscriber.on('message', (channel: string, raw: string) => {
      if (channel === this.channel) this.apply(raw);
    });
    // Subscribe on every (re)connection; a Redis that is down at start-up must not stop the app.
    const subscribe = () =>
      subscriber
        .subscribe(this.channel)
        .catch((error: Error) => this.logger.warn(`Could not subscribe: ${error.message}`));
    subscriber.on('ready', () => void subscribe());
    if (subscriber.status === 'ready') await subscribe();
  }

  async sessionRevoked(sessionId: string): Promise<void> {
    await this.publish({ session: sessionId });
  }

  async userRevoked(userId: string, keepSessionId?: string): Promise<void> {
    await this.publish({ user: userId, keep: keepSessionId });
  }

  /** The user's cut-off (ms) moved: their older access tokens die at every instance now. */
  async userCutOff(userId: string, notBefore: number): Promise<void> {
    await this.publish({ cutOff: userId, notBefore });
  }

  private async publish(message: RevocationMessage): Promise<void> {
    this.feed.raise();
    if (!this.redis.client) return;
    try {
      await this.redis.client.publish(this.channel, JSON.stringify(message));
    } catch (error) {
      // The database already holds the revocation; other instances see it within the cache TTL.
      this.logger.warn(`Could not broadcast a revocation: ${(error as Error).message}`);
    }
  }

  private apply(raw: string): void {
    try {
      const message = JSON.parse(raw) as RevocationMessage;
      if ('session' in message && typeof message.session === 'string') this.cache.markRevoked(message.session);
      else if ('user' in message && typeof message.user === 'string')
        this.cache.markUserRevoked(message.user, message.keep);
      else if ('cutOff' in message && typeof message.cutOff === 'string' && Number.isFinite(message.notBefore))
        // A cut-off is never more than a second ahead (plus skew): one far in the future would
        // refuse the user's every token here until this process restarts.
        this.cache.markUserCutOff(message.cutOff, Math.min(message.notBefore, Date.now() + MAX_CUT_OFF_AHEAD_MS));
      this.feed.raise();
    } catch {
      this.logger.warn('Ignored a malformed revocation message');
    }
  }
}
