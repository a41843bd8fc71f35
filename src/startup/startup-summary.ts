import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DataSource } from 'typeorm';
import type { AppConfig, DatabaseConfig } from '../config/app-config.js';
import { describeUrl } from '../config/redacted-url.js';
import { migrationsReport } from '../database/migrations-at-start.js';

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '']);

/** The URL a person on this machine opens: a wildcard address is not one, localhost is. */
export function localBaseUrl(host: string, port: number): string {
  if (WILDCARD_HOSTS.has(host)) return `http://localhost:${port}`;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Where the data is, without the password, query string (TLS keys) or fragment a PostgreSQL URL may carry. */
export function describeDatabase(database: DatabaseConfig): string {
  if (database.type === 'sqlite') {
    return database.sqlitePath === ':memory:'
      ? 'SQLite in memory (gone at exit)'
      : `SQLite ${resolve(database.sqlitePath!)}`;
  }
  return `PostgreSQL ${describeUrl(database.url)}`;
}

export interface StartupSummary {
  /** One line for the person who started the service. */
  line: string;
  /** The same, as fields, for log collectors. */
  fields: {
    urls: { demo?: string; docs?: string };
    database: string;
    migrations: { appliedNow: string[]; total: number; latest?: string };
  };
}

/** What to open, where the data is, what the start did to the schema. */
export async function startupSummary(app: NestFastifyApplication, config: AppConfig): Promise<StartupSummary> {
  const { port } = app.getHttpServer().address() as AddressInfo;
  const base = localBaseUrl(config.http.host, port);
  // Only what this instance serves: DEMO_ENABLED / DOCS_ENABLED may turn either off.
  const urls = {
    ...(config.http.demoEnabled ? { demo: `${base}/` } : {}),
    ...(config.http.docsEnabled ? { docs: `${base}/docs` } : {}),
  };
  const opens = [urls.demo && `Demo page: ${urls.demo}`, urls.docs && `API docs: ${urls.docs}`].filter(Boolean);
  const database = describeDatabase(config.database);
  const { appliedNow, applied } = await migrationsReport(app.get(DataSource));
  const latest = applied.at(-1);
  const migrations = appliedNow.length
    ? `${appliedNow.length} applied now (${appliedNow.join(', ')})`
    : `none pending (${applied.length} applied before${latest ? `, latest ${latest}` : ''})`;
  const everywhere = WILDCARD_HOSTS.has(config.http.host)
    ? ` (listening on all interfaces, ${config.http.host || '*'}:${port})`
    : '';
  return {
    line: `Ready${everywhere}. ${[...opens, `Database: ${database}`, `Migrations: ${migrations}`].join(' · ')}`,
    fields: { urls, database, migrations: { appliedNow, total: applied.length, latest } },
  };
}
