import './preamble.js';
import 'reflect-metadata';
import { createAppLogger } from './common/logging/app-logger.js';
import { StartupError } from './common/startup-error.js';
import { configFromEnvOrExit } from './config/config-from-env.js';
import { startApp } from './startup/start-app.js';

async function bootstrap(): Promise<void> {
  const config = configFromEnvOrExit();
  const logger = createAppLogger(config.http.logLevel, { format: config.http.logFormat });
  try {
    await startApp(config, logger);
  } catch (error) {
    // Something the person can fix: one line saying what and how, like a bad variable.
    if (error instanceof StartupError) console.error(error.message);
    else logger.fatal({ err: error }, 'Start-up failed');
    process.exit(1);
  }
}

void bootstrap();
