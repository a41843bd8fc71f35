import { Injectable, Logger } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { RevocationEventRepository } from './revocation-event.repository.js';

/**
 * Deletes feed entries past their `until`, every ten minutes: no token they affect can still be
 * accepted, and a new subscriber's backfill is every entry still in force, so it stays small.
 */
@Injectable()
export class RevocationPurgeTask {
  private readonly logger = new Logger(RevocationPurgeTask.name);
  private running = false;

  constructor(private readonly events: RevocationEventRepository) {}

  // No parameters: a scheduler may call its handler with arguments of its own.
  // An interval, not a cron expression: creating the first cron job cost ~50 ms of every start
  // (luxon, time-zone data), and instances have no reason to purge at the same moment.
  @Interval(10 * 60 * 1000)
  purge(): Promise<number> {
    return this.purgeAt(Date.now());
  }

  /** Deletes what expired by `now` (ms); returns how many. */
  async purgeAt(now: number): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    try {
      const purged = await this.events.deleteExpired(Math.floor(now / 1000));
      if (purged) this.logger.log(`Purged ${purged} expired revocation feed entries`);
      return purged;
    } catch (error) {
      this.logger.error(`Revocation feed purge failed: ${(error as Error).message}`);
      return 0;
    } finally {
      this.running = false;
    }
  }
}
