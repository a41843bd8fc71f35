import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/**
 * Hand-written SQL for the hot paths (refresh, session checks, audit), where the query builder's
 * per-call cost shows in profiles. Statements are written with `?` placeholders; on PostgreSQL
 * they become `$1, $2, …`. The drivers cache prepared statements by text.
 */
@Injectable()
export class Sql {
  private readonly postgres: boolean;
  private readonly translated = new Map<string, string>();

  constructor(private readonly dataSource: DataSource) {
    this.postgres = dataSource.options.type === 'postgres';
  }

  /** Rows of a SELECT. */
  all<T>(text: string, params: unknown[] = []): Promise<T[]> {
    return this.dataSource.query(this.dialect(text), params) as Promise<T[]>;
  }

  /** First row of a SELECT, or undefined. */
  async one<T>(text: string, params: unknown[] = []): Promise<T | undefined> {
    return (await this.all<T>(text, params))[0];
  }

  /** An INSERT/UPDATE/DELETE whose row count does not matter. */
  async run(text: string, params: unknown[] = []): Promise<void> {
    await this.dataSource.query(this.dialect(text), params);
  }

  private dialect(text: string): string {
    if (!this.postgres) return text;
    let translated = this.translated.get(text);
    if (!translated) {
      let n = 0;
      translated = text.replace(/\?/g, () => `$${++n}`);
      this.translated.set(text, translated);
    }
    return translated;
  }
}
