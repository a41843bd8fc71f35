import { Injectable, Logger } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { SessionsService } from './sessions.service.js';

/** Ended sessions are kept this long (for "why was I logged out?" support), then deleted. */
export const SESSION_RETENTION_MS = 7 * 24 * 3600 * 1000;

@Injectable()
export class SessionsPurgeTask {
  private readonly logger = new Logger(SessionsPurgeTask.name);

  constructor(private readonly sessions: SessionsService) {}

  // An interval, not a cron expression: creating the first cron job cost ~50 ms of every start
  // (luxon, time-zone data), and instances have no reason to purge at the same moment.
  @Interval(60 * 60 * 1000)
  async purge(): Promise<void> {
    try {
      const purged = await this.sessions.purgeEnded(SESSION_RETENTION_MS);
      if (purged) this.logger.log(`Purged ${purged} ended sessions`);
    } catch (error) {
      this.logger.error(`Session purge failed: ${(error as Error).message}`);
    }
  }
}
