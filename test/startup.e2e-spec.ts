import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { StartupError } from '../src/common/startup-error.js';
import { MIGRATIONS } from '../src/database/migrations/index.js';
import { INFO, startInProcess, WARN, type LogLine } from './utils/start-app-in-process.js';

const migrationNames = MIGRATIONS.map((migration) => migration.name);
const messages = (lines: LogLine[], level: number) =>
  lines.filter((line) => line.level === level).map((line) => line.msg ?? '');

describe('start-up as main.ts does it (e2e)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nta-startup-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('says in one info line what to open, where the database is and which migrations ran', async () => {
    const file = join(dir, 'data', 'auth.sqlite');
    const first = await startInProcess({ DATABASE_URL: `sqlite:${file}` });
    try {
      expect(first.error).toBeUndefined();
      const { port } = first.app!.getHttpServer().address() as AddressInfo;
      const ready = first.lines.filter((line) => line.msg?.startsWith('Ready'));
      expect(ready).toHaveLength(1);
      expect(ready[0].level).toBe(INFO);
      expect(ready[0].msg).toBe(
        `Ready. Demo page: http://127.0.0.1:${port}/ · API docs: http://127.0.0.1:${port}/docs · Database: SQLite ${file} · ` +
          `Migrations: ${migrationNames.length} applied now (${migrationNames.join(', ')})`,
      );
      // The same for machines, as fields.
      expect(ready[0]).toMatchObject({
        urls: { demo: `http://127.0.0.1:${port}/`, docs: `http://127.0.0.1:${port}/docs` },
        database: `SQLite ${file}`,
        migrations: { appliedNow: migrationNames, total: migrationNames.length, latest: migrationNames.at(-1) },
      });
      // The URLs it names answer.
      await request(first.app!.getHttpServer()).get('/docs').expect(200);
      await request(first.app!.getHttpServer()).get('/').expect(200);
      // Nest's ~40 lines of modules and routes are debug output now, not the first thing a person reads.
      const info = first.lines.filter((line) => line.level >= INFO);
      expect(
        info.filter((line) => ['InstanceLoader', 'RoutesResolver', 'RouterExplorer'].includes(line.context ?? '')),
      ).toEqual([]);
      expect(info.length).toBeLessThanOrEqual(4);
    } finally {
      await first.close();
    }

    const second = await startInProcess({ DATABASE_URL: `sqlite:${file}` });
    try {
      const ready = second.lines.find((line) => line.msg?.startsWith('Ready'));
      expect(ready?.msg).toContain(
        `Migrations: none pending (${migrationNames.length} applied before, latest ${migrationNames.at(-1)})`,
      );
    } finally {
      await second.close();
    }
  });

  it('a second start on a busy port fails with one line naming the address and PORT/HOST; nothing claimed success', async () => {
    const first = await startInProcess();
    try {
      const { port } = first.app!.getHttpServer().address() as AddressInfo;
      const second = await startInProcess({ PORT: String(port) });
      await second.close();
      expect(second.error).toBeInstanceOf(StartupError);
      const message = (second.error as Error).message;
      expect(message).toBe(
        `Cannot listen on 127.0.0.1:${port}: the address is already in use (another instance, or another program); stop it, or set PORT (and HOST) to a free address`,
      );
      // main.ts prints that one line; the logs must not have said "started" or "Ready", or
      // printed the error themselves.
      const shown = second.lines.filter((line) => line.level >= INFO).map((line) => JSON.stringify(line));
      expect(shown.filter((line) => /successfully started|Ready|listening|EADDRINUSE/i.test(line))).toEqual([]);
      // The first instance is unharmed.
      await request(first.app!.getHttpServer()).get('/health').expect(200);
    } finally {
      await first.close();
    }
  });

  it('warns, one line each, about a local http issuer, private keys in the clear, a weak argon2id cost and COOKIE_SECURE=false in production', async () => {
    // The tests' argon2id cost (1024 KiB × 1) is below OWASP's profiles: fine for tests, warned about in production.
    const started = await startInProcess({ NODE_ENV: 'production', COOKIE_SECURE: 'false' });
    await started.close();
    expect(started.error).toBeUndefined();
    const warnings = messages(started.lines, WARN);
    expect(warnings).toEqual([
      expect.stringMatching(
        /^JWT_ISSUER is http:\/\/localhost:0 in production: .*a local, plain-http address.*set JWT_ISSUER/,
      ),
      expect.stringMatching(
        /^KEYS_ENCRYPTION_KEY is not set in production: private signing keys are stored .* in the clear/,
      ),
      expect.stringMatching(
        /^ARGON2_MEMORY_KIB=1024 with ARGON2_ITERATIONS=1 in production is below every argon2id profile OWASP lists/,
      ),
      expect.stringMatching(/^COOKIE_SECURE=false in production: /),
    ]);
  });

  it('does not warn about a production configuration that is right', async () => {
    const started = await startInProcess({
      NODE_ENV: 'production',
      JWT_ISSUER: 'https://auth.example.com',
      KEYS_ENCRYPTION_KEY: 'q8V3nZt1Lb7RkW0yJ5mHc2Xg9PfD4sAe6Uo/NiKr+Ew=',
      ARGON2_MEMORY_KIB: '7168',
      ARGON2_ITERATIONS: '5',
    });
    await started.close();
    expect(started.error).toBeUndefined();
    expect(messages(started.lines, WARN)).toEqual([]);
  });
});
