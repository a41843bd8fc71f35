import fastifyCookie from '@fastify/cookie';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { LogController, type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { NotFoundException } from '@nestjs/common';
import { REFRESH_COOKIE } from './auth/refresh-cookie.js';
import { applyBodyPolicy } from './common/http/accepts-body.decorator.js';
import { applyBodyDepthLimit } from './common/http/body-depth.js';
import { RefusalDelay } from './common/http/refusal-delay.js';
import { RouteMethods } from './common/http/route-methods.js';
import { isJson, securityHeaders, type SecurityHeaders } from './common/http/security-headers.js';
import { lazyChildLoggerFactory } from './common/logging/lazy-request-logger.js';
import { serverTimeouts } from './common/http/server-timeouts.js';
import type { AppConfig } from './config/app-config.js';
import { toErrorResponse } from './common/filters/all-exceptions.filter.js';

/** The HTTP adapter, with what must be set before the server exists: limits, proxy trust, logger. */
export function createHttpAdapter(config: AppConfig, logger?: Logger): FastifyAdapter {
  const headers = appSecurityHeaders(config);
  return new FastifyAdapter({
    // No Nest middleware here, so no @fastify/middie: its request hook ran on every request for
    // nothing (with the body-depth hook on GET routes, ~4 % of GET /auth/me's CPU). A module that
    // adds middleware meets the error in configureApp at start-up.
    skipMiddie: true,
    bodyLimit: config.http.bodyLimit,
    // The router refuses a malformed URL (400) and an over-long route parameter (414) before any
    // hook runs, so neither our onRequest headers nor the exception filter would see them: answer
    // them here, in our error shape and with our headers, instead of Fastify's own body.
    frameworkErrors: (error: FastifyError, _request: FastifyRequest, reply: FastifyReply) => {
      const response = toErrorResponse(error);
      void reply
        .headers({ ...headers.all, ...response.headers })
        .status(response.status)
        .send(response.body);
    },
    // Fastify leaves these at 0 (never): a client that stops sending would hold its socket forever.
    ...serverTimeouts(config.http.requestTimeout),
    // A hop count trusts that many proxies from our side; the client's own claims stay untrusted.
    trustProxy:
      typeof config.http.trustProxy === 'number'
        ? (
            (hops: number) => (_address: string, hop: number) =>
              hop < hops
          )(config.http.trustProxy)
        : config.http.trustProxy,
    ...(logger
      ? {
          loggerInstance: logger,
          logController: new LogController({ disableRequestLogging: !config.http.logRequests }),
          childLoggerFactory: lazyChildLoggerFactory,
        }
      : {}),
  });
}

/** Everything main.ts and the e2e tests both need on top of the module: headers, cookies, CORS, Swagger. */
export async function configureApp(app: NestFastifyApplication, config: AppConfig): Promise<void> {
  const headers = appSecurityHeaders(config);
  // Routes are registered at app.init, after this: the onRoute hooks see every one of them.
  const fastify = app.getHttpAdapter().getInstance();
  const routes = RouteMethods.track(fastify);
  fastify.addHook('onRoute', applyBodyPolicy);
  fastify.addHook('onRoute', applyBodyDepthLimit);
  fastify.decorate('use', () => {
    throw new Error(
      'Nest middleware needs @fastify/middie: remove `skipMiddie` from createHttpAdapter (src/app.setup.ts)',
    );
  });
  // On every response, errors and 404s included. The hooks here run on every request, so they
  // are callback-style: an async hook costs a promise and a microtask per request.
  // An unmatched request is answered here, before its body is read: 405 + Allow for a known path
  // with another method, else 404.
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.headers(headers.all);
    done(request.is404 ? (routes.wrongMethod(request.method, request.url) ?? notFound(request)) : undefined);
  });
  const isClosing = enableGracefulShutdown(app);
  // One hook for all three (each hook costs every request a call): a reply answered by a request
  // hook that ran before ours (Nest's 503 while closing, a CORS preflight, its 404 for a request
  // target no route can match) gets the headers too; all but JSON get the rest of helmet's; and
  // responses sent while shutting down carry `Connection: close`.
  // Throttled refusals are held before they are sent (refusal-delay.ts), so a flood of them
  // cannot crowd everyone else's requests off the event loop.
  const refusals = new RefusalDelay(config.http.throttledReplyDelay * 1000);
  fastify.decorate('refusalDelay', refusals);
  fastify.addHook('onSend', (_request, reply, payload, done) => {
    if (!reply.hasHeader('x-content-type-options')) reply.headers(headers.all);
    if (!isJson(reply.getHeader('content-type'))) reply.headers(headers.documentOnly);
    if (isClosing()) reply.header('Connection', 'close');
    else {
      const retryAfter = reply.getHeader('retry-after');
      if (RefusalDelay.isRefusal(reply.statusCode, retryAfter)) {
        const outcome = refusals.hold(reply.raw, retryAfter, () => {
          // Released by a shutdown (or its timer during one): keep-alive would hold the close up.
          if (isClosing()) reply.header('Connection', 'close');
          done(null, payload);
        });
        if (outcome === 'held') return;
        if (outcome === 'full') reply.header('Connection', 'close');
      }
    }
    done(null, payload);
  });
  // After enableGracefulShutdown's preClose (hooks run in order), so released ones say `close`.
  fastify.addHook('preClose', (done) => {
    refusals.releaseAll();
    done();
  });
  await app.register(fastifyCookie);
  // Credentialed CORS only for the configured origins. With none, browsers get no CORS headers and
  // preflights a 405 (no OPTIONS route), which is what the plugin does with `origin: false`, minus
  // its per-request work.
  if (config.http.corsOrigins.length) {
    app.enableCors({
      origin: config.http.corsOrigins,
      credentials: true,
      methods: ['GET', 'POST', 'PATCH', 'DELETE'],
      allowedHeaders: ['Authorization', 'Content-Type'],
      exposedHeaders: ['WWW-Authenticate', 'Retry-After'],
      maxAge: 600,
    });
  }
  if (config.http.demoEnabled) serveDemo(app);
  if (config.http.docsEnabled) serveDocs(app);
}

/** helmet's headers with our policy: see securityHeaders for which go on every response. */
function appSecurityHeaders(config: AppConfig): SecurityHeaders {
  return securityHeaders({
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        // Swagger UI sets inline styles.
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        frameAncestors: ["'none'"],
        formAction: ["'self'"],
        // Plain-http development would otherwise have its own requests rewritten to https.
        upgradeInsecureRequests: config.env === 'production' ? [] : null,
      },
    },
    // HSTS only makes sense behind TLS; production deployments terminate TLS in front of us.
    strictTransportSecurity: config.env === 'production',
  });
}

/**
 * Swagger UI at /docs and the OpenAPI document at /docs-json (and /docs-yaml). The document is
 * built on the first request for it, not at start: scanning every route and DTO took ~30–80 ms
 * of each start-up (README, Performance), and most starts never serve it.
 */
function serveDocs(app: NestFastifyApplication): void {
  const buildDocument = () =>
    SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle('nest-token-auth')
        .setDescription(
          'Username/password login, short-lived JWT access tokens (`Authorization: Bearer`), and rotating refresh tokens in an HttpOnly cookie (or through the OAuth 2.0 token endpoint) with reuse detection.',
        )
        .setVersion('0.1.0')
        // In the order a person follows the flow.
        .addTag('auth', 'Register, log in, call with the access token, refresh it from the cookie, log out.')
        .addTag('sessions', 'Your signed-in devices and security events; sign one device out.')
        .addTag(
          'oauth',
          'OAuth 2.0 token and revocation endpoints for native and server clients, and the server metadata.',
        )
        .addTag('keys', 'Public keys that resource servers use to verify access tokens (JWKS).')
        .addTag(
          'admin',
          "For admins: users, their roles and sessions, every user's security events, and the resource-server clients.",
        )
        .addTag('health', 'Database and Redis status, for load balancers.')
        .addBearerAuth({
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'The `access_token` from POST /auth/login or /auth/refresh (without "Bearer ").',
        })
        .addCookieAuth(REFRESH_COOKIE, {
          type: 'apiKey',
          in: 'cookie',
          name: REFRESH_COOKIE,
          description:
            'Nothing to paste: POST /auth/login sets this HttpOnly cookie (Path=/auth) and the browser sends it to /auth/refresh and /auth/logout by itself. Pages and Swagger UI cannot read it, and browsers do not let scripts set a Cookie header.',
        })
        .addBasicAuth(
          {
            type: 'http',
            scheme: 'basic',
            description:
              'Resource-server clients (`client_secret_basic`): the client_id as username and the client_secret as password, from `npm run clients -- create` or POST /admin/clients.',
          },
          'client_secret_basic',
        )
        // Relative: Swagger UI sends "Try it out" to the origin it was opened from (our CSP allows only
        // that one), not to JWT_ISSUER, which may name another host or port.
        .addServer('/')
        .build(),
      // Only the tags above: untagged controllers would get one named after their class.
      { autoTagControllers: false },
    );
  SwaggerModule.setup('docs', app, buildDocument, { jsonDocumentUrl: 'docs-json' });
}

function notFound(request: FastifyRequest): NotFoundException {
  return new NotFoundException(`Cannot ${request.method} ${request.url.split('?')[0]}`);
}

/**
 * The demo page at `/` (with its favicon and `/vendor/bowser.mjs`) and the built client library at
 * `/client/` (after `npm run build:client`).
 */
function serveDemo(app: NestFastifyApplication): void {
  const root = (path: string) => fileURLToPath(new URL(path, import.meta.url));
  const fastify = app.getHttpAdapter().getInstance();
  void fastify.register(fastifyStatic, { root: root('../public'), prefix: '/', wildcard: false, decorateReply: false });
  const client = root('../client/dist');
  if (existsSync(client)) {
    void fastify.register(fastifyStatic, { root: client, prefix: '/client/', wildcard: false, decorateReply: false });
  }
  // The page's User-Agent parser (an ES module), from our own origin: the CSP allows no CDN.
  const bowser = readFileSync(createRequire(import.meta.url).resolve('bowser/bowser.mjs'));
  fastify.get('/vendor/bowser.mjs', (_request, reply) => {
    void reply.type('text/javascript; charset=utf-8').header('Cache-Control', 'public, max-age=3600').send(bowser);
  });
}

/**
 * SIGTERM/SIGINT: stop accepting, let in-flight requests finish, close the pools, exit 0.
 * Returns whether the server is closing: responses sent then carry `Connection: close` (the onSend
 * hook in configureApp), so keep-alive clients let go instead of holding the server open until
 * their idle timeout.
 */
function enableGracefulShutdown(app: NestFastifyApplication): () => boolean {
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  let closing = false;
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('preClose', async () => {
      closing = true;
    });
  return () => closing;
}
