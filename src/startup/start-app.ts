import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Logger } from 'pino';
import { AppModule } from '../app.module.js';
import { configureApp, createHttpAdapter } from '../app.setup.js';
import { PinoLoggerService } from '../common/logging/app-logger.js';
import { StartupError } from '../common/startup-error.js';
import type { AppConfig } from '../config/app-config.js';
import { configWarnings } from '../config/config-warnings.js';
import { startupSummary } from './startup-summary.js';

/**
 * Emitted on `process` once the app is listening; `npm run start:prod` saves V8's code cache of
 * the bundle then, so that it holds what start-up compiled (scripts/code-cache.cjs).
 */
export const LISTENING_EVENT = 'app:listening';

/**
 * What main.ts does, in a function tests can call: warn about unsafe settings, build the app,
 * listen, then say in one line what to open. Failures the person can fix come out as a
 * StartupError (one line, see main.ts); nothing claims success before `listen` has succeeded.
 */
export async function startApp(config: AppConfig, logger: Logger): Promise<NestFastifyApplication> {
  for (const warning of configWarnings(config)) logger.warn(warning);
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config),
    createHttpAdapter(config, logger),
    {
      logger: new PinoLoggerService(logger),
      // Hand errors back to main.ts instead of logging them and calling process.abort().
      abortOnError: false,
    },
  );
  try {
    await configureApp(app, config);
    await listen(app, config);
    const { line, fields } = await startupSummary(app, config);
    // In pretty (development) output, fields would print as extra lines under the sentence.
    logger.info(config.http.logFormat === 'json' ? fields : {}, line);
    (process as NodeJS.EventEmitter).emit(LISTENING_EVENT);
  } catch (error) {
    await app.close().catch(() => undefined);
    throw error;
  }
  return app;
}

async function listen(app: NestFastifyApplication, config: AppConfig): Promise<void> {
  const { host, port } = config.http;
  try {
    await app.listen(port, host);
  } catch (error) {
    const at = `Cannot listen on ${host.includes(':') ? `[${host}]` : host}:${port}`;
    switch ((error as NodeJS.ErrnoException).code) {
      case 'EADDRINUSE':
        throw new StartupError(
          `${at}: the address is already in use (another instance, or another program); stop it, or set PORT (and HOST) to a free address`,
        );
      case 'EACCES':
        throw new StartupError(
          `${at}: permission denied (ports below 1024 need privileges); set PORT to 1024 or above`,
        );
      case 'EADDRNOTAVAIL':
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        throw new StartupError(
          `${at}: HOST is not an address of this machine; set HOST to 127.0.0.1, 0.0.0.0 or one of its addresses`,
        );
      default:
        throw error;
    }
  }
}
