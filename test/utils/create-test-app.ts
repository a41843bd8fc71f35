import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModuleMetadata } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from '../../src/app.module.js';
import { configureApp, createHttpAdapter } from '../../src/app.setup.js';
import type { AppConfig } from '../../src/config/app-config.js';
import { loadConfig } from '../../src/config/env.validation.js';
import { dropPgDatabase, ensurePgDatabase, freshPgUrl, PG_MODE } from './test-database.js';

export interface TestApp {
  app: NestFastifyApplication;
  config: AppConfig;
  /** The raw Node server, for supertest. */
  server: import('node:http').Server;
  close(): Promise<void>;
}

/** Settings that keep tests fast: cheap argon2, in-memory SQLite. Each suite overrides what it tests. */
const TEST_ENV: Record<string, string> = {
  NODE_ENV: 'test',
  DATABASE_URL: 'sqlite::memory:',
  JWT_ISSUER: 'http://issuer.test',
  ARGON2_MEMORY_KIB: '1024',
  ARGON2_ITERATIONS: '1',
  // Suites register many users from one address (127.0.0.1); the register throttle's own suite sets it low.
  REGISTER_MAX_PER_IP: '1000000',
  // Likewise their logins; the capacity suite sets it low.
  LOGIN_MAX_PER_IP: '1000000',
  // Suites that drive throttles to their 429s get them at once; test/security/refusal-delay.e2e-spec.ts holds them.
  THROTTLED_REPLY_DELAY: '0',
};

/**
 * Passport keeps strategies in one process-wide registry by name ('local', 'jwt'), so the newest
 * app's strategies serve every app in the process: a second live app silently makes the first
 * log users in against the second one's database. Hence one live app at a time per test file.
 */
let liveApp: string | undefined;

/**
 * The one way e2e suites build the app: the production module and `configureApp`, with env
 * overrides. Pass `DATABASE_URL: 'sqlite:<file>'` (see `tempSqliteUrl`) to test restarts.
 * Close the previous app first (see `liveApp`). `imports`: modules added beside the app's, as a
 * team adds its own (e.g. a controller using @Roles()).
 */
export async function createTestApp(
  env: Record<string, string> = {},
  options: { imports?: ModuleMetadata['imports'] } = {},
): Promise<TestApp> {
  if (liveApp !== undefined) {
    throw new Error(
      `createTestApp: another app (${liveApp}) is still open; close it first, since passport strategies are process-global`,
    );
  }
  const merged = { ...TEST_ENV, ...env };
  // Against PostgreSQL, an in-memory database becomes a fresh database of its own, dropped on close.
  const ownPgDatabase = PG_MODE && merged.DATABASE_URL === 'sqlite::memory:';
  if (ownPgDatabase) merged.DATABASE_URL = freshPgUrl();
  if (PG_MODE) await ensurePgDatabase(merged.DATABASE_URL);
  const config = loadConfig(merged);
  const moduleRef = await Test.createTestingModule({
    imports: [AppModule.forRoot(config), ...(options.imports ?? [])],
  }).compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(createHttpAdapter(config), { logger: ['error'] });
  const label = JSON.stringify(env);
  liveApp = label;
  try {
    await configureApp(app, config);
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  } catch (error) {
    liveApp = undefined;
    await app.close().catch(() => undefined);
    throw error;
  }
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    try {
      await app.close();
      if (ownPgDatabase) await dropPgDatabase(merged.DATABASE_URL);
    } finally {
      liveApp = undefined;
    }
  };
  return { app, config, server: app.getHttpServer(), close };
}

/**
 * A fresh database that outlives an app, for restart tests: a SQLite file under the OS temp
 * dir, or (against PostgreSQL) a database of its own. `cleanup` removes it.
 */
export function tempSqliteUrl(): { url: string; cleanup(): Promise<void> | void } {
  if (PG_MODE) {
    const url = freshPgUrl();
    return { url, cleanup: () => dropPgDatabase(url) };
  }
  const dir = mkdtempSync(join(tmpdir(), 'nest-token-auth-'));
  return { url: `sqlite:${join(dir, 'auth.sqlite')}`, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
