import './preamble.js';
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module.js';
import { configureApp, createHttpAdapter } from './app.setup.js';
import { createAppLogger, PinoLoggerService } from './common/logging/app-logger.js';
import { configFromEnvOrExit } from './config/config-from-env.js';

async function bootstrap(): Promise<void> {
  const config = configFromEnvOrExit();
  const logger = createAppLogger(config.http.logLevel);
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config),
    createHttpAdapter(config, logger),
    { logger: new PinoLoggerService(logger) },
  );
  await configureApp(app, config);
  await app.listen(config.http.port, config.http.host);
  logger.info({ url: await app.getUrl(), docs: '/docs' }, 'Listening');
}

void bootstrap();
