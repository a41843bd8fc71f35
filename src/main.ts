import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module.js';
import { configureApp, createHttpAdapter } from './app.setup.js';
import { ConfigError, loadConfig } from './config/env.validation.js';

async function bootstrap(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`Invalid configuration: ${error.message}`);
    process.exit(1);
  }

  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), createHttpAdapter(config), {
    logger: config.env === 'production' ? ['error', 'warn', 'log'] : ['error', 'warn', 'log', 'debug'],
  });
  await configureApp(app, config);
  await app.listen(config.http.port, config.http.host);
  Logger.log(`Listening on ${await app.getUrl()} (docs at /docs)`, 'Bootstrap');
}

void bootstrap();
