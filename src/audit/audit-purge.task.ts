import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Cron, CronExpression } from '@nestjs/schedule';
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

  @Cron(CronExpression.EVERY_HOUR)
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
