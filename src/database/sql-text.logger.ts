import { Logger } from '@nestjs/common';
import type { Logger as TypeOrmLogger } from 'typeorm';

/**
 * DATABASE_LOGGING's logger: statements only, never their parameters, which include password
 * hashes, token hashes and signing-key material.
 */
export class SqlTextLogger implements TypeOrmLogger {
  private readonly logger = new Logger('SQL');

  logQuery(query: string): void {
    this.logger.log(query);
  }
  logQueryError(error: string | Error, query: string): void {
    this.logger.error(`${typeof error === 'string' ? error : error.message} in: ${query}`);
  }
  logQuerySlow(time: number, query: string): void {
    this.logger.warn(`slow (${time} ms): ${query}`);
  }
  logSchemaBuild(message: string): void {
    this.logger.log(message);
  }
  logMigration(message: string): void {
    this.logger.log(message);
  }
  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    if (level === 'warn') this.logger.warn(String(message));
    else this.logger.log(String(message));
  }
}
