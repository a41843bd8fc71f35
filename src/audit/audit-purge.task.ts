import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Interval } from '@nestjs/schedule';
import type { AppConfig } from '../config/app-config.js';
import { AuditService } from './audit.service.js';

/** Deletes audit events older than AUDIT_RETENTION, hourly. */
@Injectable()
export class AuditPurgeTask {
  private readonly logger = new Logger(AuditPurgeTask.name);
  private readonly retentionMs: number;
  private running = false;

  constructor(
    private readonly audit: AuditService,
    config: ConfigService<AppConfig, true>,
  ) {
    this.retentionMs = config.get('audit', { infer: true }).retention * 1000;
  }

  // An interval, not a cron expression: creating the first cron job cost ~50 ms of every start
  // (luxon, time-zone data), and instances have no reason to purge at the same moment.
  @Interval(60 * 60 * 1000)
  async purge(): Promise<void> {
    // A first purge of a large backlog may outlast the hour; the next one waits its turn.
    if (this.running) return;
    this.running = true;
    try {
      const purged = await this.audit.purgeOlderThan(this.retentionMs);
      if (purged) this.logger.log(`Purged ${purged} audit events older than the retention`);
    } catch (error) {
      this.logger.error(`Audit purge failed: ${(error as Error).message}`);
    } finally {
      this.running = false;
    }
  }
}
