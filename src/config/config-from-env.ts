import { existsSync } from 'node:fs';
import type { AppConfig } from './app-config.js';
import { ConfigError, loadConfig } from './env.validation.js';

/** For entry points: reads `.env` if present, validates, and on bad values exits with one clear line per variable. */
export function configFromEnvOrExit(): AppConfig {
  if (existsSync('.env')) process.loadEnvFile('.env');
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) console.error(`Invalid configuration: ${problem}`);
    process.exit(1);
  }
}
