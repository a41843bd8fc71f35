import { existsSync } from 'node:fs';
import type { AppConfig } from './app-config.js';
import { ConfigError, loadConfig } from './env.validation.js';

/** For entry points: reads `.env` if present, validates, and on a bad value exits with one clear line. */
export function configFromEnvOrExit(): AppConfig {
  if (existsSync('.env')) process.loadEnvFile('.env');
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`Invalid configuration: ${error.message}`);
    process.exit(1);
  }
}
