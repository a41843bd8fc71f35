import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module.js';

const app = await NestFactory.create<NestFastifyApplication>(AppModule, new FastifyAdapter(), {
  logger: ['error', 'warn'],
});
// app.close() on SIGTERM/SIGINT closes the verifier, whose feed stream would keep the process alive.
app.enableShutdownHooks();
const port = Number(process.env.PORT || 4001);
const host = process.env.HOST || '127.0.0.1';
await app.listen(port, host);
console.log(`nest-api listening on http://${host}:${port}`);
