import { execFileSync } from 'node:child_process';
import { chmodSync, statSync } from 'node:fs';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createAppLogger } from '../../src/common/logging/app-logger.js';
import { loadConfig } from '../../src/config/env.validation.js';
import { startApp } from '../../src/startup/start-app.js';

export interface LogLine {
  level: number;
  msg?: string;
  context?: string;
  [key: string]: unknown;
}

/** Start-up settings for tests: cheap argon2, a random port, everything at info level. */
const STARTUP_TEST_ENV: Record<string, string> = {
  NODE_ENV: 'test',
  PORT: '0',
  HOST: '127.0.0.1',
  DATABASE_URL: 'sqlite::memory:',
  ARGON2_MEMORY_KIB: '1024',
  ARGON2_ITERATIONS: '1',
  LOG_LEVEL: 'info',
};

export const INFO = 30;
export const WARN = 40;

/**
 * Runs main.ts's start-up (startApp) in this process with a JSON logger whose lines are kept:
 * what a person sees on stdout when starting the service. `result` is the app, or the error
 * main.ts would print.
 */
export async function startInProcess(env: Record<string, string> = {}): Promise<{
  app?: NestFastifyApplication;
  error?: unknown;
  lines: LogLine[];
  close(): Promise<void>;
}> {
  const lines: LogLine[] = [];
  const config = loadConfig({ ...STARTUP_TEST_ENV, ...env });
  const logger = createAppLogger(config.http.logLevel, {
    destination: { write: (line: string) => lines.push(JSON.parse(line) as LogLine) },
  });
  try {
    const app = await startApp({ ...config, http: { ...config.http, logFormat: 'json' } }, logger);
    return { app, lines, close: () => app.close() };
  } catch (error) {
    return { error, lines, close: async () => undefined };
  }
}

/**
 * Makes a file or folder unwritable, also for root: root ignores mode bits, so as root this sets
 * the immutable attribute (`chattr +i`, needs CAP_LINUX_IMMUTABLE and ext4/xfs/btrfs/tmpfs ≥ 6.0),
 * which refuses writes to everyone (EPERM), as a read-only mount would (EROFS).
 * Returns the function that undoes it.
 */
export function makeUnwritable(path: string): () => void {
  if (process.getuid?.() === 0) {
    execFileSync('chattr', ['+i', path]);
    return () => execFileSync('chattr', ['-i', path]);
  }
  const { mode } = statSync(path);
  chmodSync(path, statSync(path).isDirectory() ? 0o555 : 0o444);
  return () => chmodSync(path, mode);
}
