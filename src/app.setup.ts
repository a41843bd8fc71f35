import fastifyCookie from '@fastify/cookie';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { REFRESH_COOKIE } from './auth/refresh-cookie.js';
import type { AppConfig } from './config/app-config.js';

/** The HTTP adapter, with limits that must be set before the server exists. */
export function createHttpAdapter(config: AppConfig): FastifyAdapter {
  return new FastifyAdapter({ bodyLimit: config.http.bodyLimit, trustProxy: false });
}

/** Everything main.ts and the e2e tests both need on top of the module: cookies, errors, Swagger. */
export async function configureApp(app: NestFastifyApplication, config: AppConfig): Promise<void> {
  await app.register(fastifyCookie);
  app.enableShutdownHooks();

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('nest-token-auth')
      .setDescription(
        'Username/password login, short-lived JWT access tokens (`Authorization: Bearer`), and rotating refresh tokens in an HttpOnly cookie with reuse detection.',
      )
      .setVersion('0.1.0')
      .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
      .addCookieAuth(REFRESH_COOKIE, { type: 'apiKey', in: 'cookie', name: REFRESH_COOKIE })
      .addServer(config.auth.issuer)
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
}
