import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { HealthIndicatorService, TypeOrmHealthIndicator, type HealthIndicatorResult } from '@nestjs/terminus';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app-config.js';
import { sqliteWriteProblem } from '../database/sqlite-writable.js';
import { HealthTransitions } from './health-transitions.js';

/**
 * The database is up when it answers a query and, for a SQLite file, when it can still be
 * written: a ping alone stays green while every register and login fails on a file or folder
 * turned read-only (SQLite reads fine from it).
 */
@Injectable()
export class DatabaseHealthIndicator {
  private readonly transitions = new HealthTransitions(new Logger(DatabaseHealthIndicator.name), 'The database');
  private readonly sqliteFile?: string;

  constructor(
    private readonly typeorm: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    private readonly dataSource: DataSource,
    config: ConfigService<AppConfig, true>,
  ) {
    const database = config.get('database', { infer: true });
    if (database.type === 'sqlite' && database.sqlitePath !== ':memory:') this.sqliteFile = database.sqlitePath;
  }

  async check(key: 'database'): Promise<HealthIndicatorResult<'database'>> {
    const problem = this.sqliteFile ? sqliteWriteProblem(this.sqliteFile) : undefined;
    const result = problem
      ? this.indicators.check(key).down({ message: `cannot be written: ${problem}` })
      : // Handed the data source: else terminus finds it with import('@nestjs/typeorm') by a name it
        // computes at run time, which a bundled build cannot see (it then loads a second Nest).
        await this.typeorm.pingCheck(key, { connection: this.dataSource }).withTimeout(1500);
    return this.transitions.publish(key, result);
  }
}
