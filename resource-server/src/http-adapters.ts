import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkRequirements, type AuthRequirements, type Principal } from './principal.js';
import { TokenError } from './token-error.js';
import type { TokenVerifier } from './token-verifier.js';

/** A Node request that went through bearerAuth: `auth` is the caller. */
export type AuthenticatedRequest = IncomingMessage & { auth?: Principal };

/**
 * Express/Connect middleware: sets `req.auth`, or answers the failure itself (status,
 * `WWW-Authenticate`, JSON `{error, error_description}`). `roles`: at least one; `scopes`: all.
 * Anything other than a refused token goes to `next(error)`.
 */
export function bearerAuth(
  verifier: TokenVerifier,
  requirements?: AuthRequirements,
): (req: AuthenticatedRequest, res: ServerResponse, next: (error?: unknown) => void) => void {
  const required = checkRequirements(requirements, 'bearerAuth');
  return (req, res, next) => {
    const authorization = header(req.headers.authorization);
    // A token seen before, on a fresh feed: no promise, no extra turn of the event loop.
    const known = verifier.authenticateKnown(authorization, required);
    if (known) {
      req.auth = known;
      next();
      return;
    }
    verifier.authenticate(authorization, required).then(
      (principal) => {
        req.auth = principal;
        next();
      },
      (error: unknown) => {
        if (error instanceof TokenError) sendTokenError(res, error);
        else next(error);
      },
    );
  };
}

/** The parts of a Fastify request and reply the hook uses (no dependency on fastify's types). */
export interface FastifyLikeRequest {
  headers: Record<string, string | string[] | undefined>;
  auth?: Principal;
}
export interface FastifyLikeReply {
  code(status: number): FastifyLikeReply;
  header(name: string, value: string): FastifyLikeReply;
  send(payload?: unknown): FastifyLikeReply;
}

/**
 * A Fastify `onRequest` hook doing what bearerAuth does: `app.addHook('onRequest', fastifyBearerAuth(verifier))`
 * or per route (`{ onRequest: fastifyBearerAuth(verifier, { roles: ['admin'] }) }`). Declare the
 * property once for speed: `app.decorateRequest('auth', null)`.
 */
export function fastifyBearerAuth(
  verifier: TokenVerifier,
  requirements?: AuthRequirements,
): (request: FastifyLikeRequest, reply: FastifyLikeReply) => Promise<FastifyLikeReply | undefined> {
  const required = checkRequirements(requirements, 'fastifyBearerAuth');
  return async (request, reply) => {
    const authorization = header(request.headers.authorization);
    const known = verifier.authenticateKnown(authorization, required);
    if (known) {
      request.auth = known;
      return undefined;
    }
    try {
      request.auth = await verifier.authenticate(authorization, required);
      return undefined;
    } catch (error) {
      if (!(error instanceof TokenError)) throw error;
      for (const [name, value] of Object.entries(errorHeaders(error))) reply.header(name, value);
      reply.code(error.status).send(error.body);
      // Fastify: an async hook that answered must return the reply, or the route runs too.
      return reply;
    }
  };
}

/**
 * Serves the RFC 9728 metadata (Connect/Express handler, or plain node:http). Mount it at the
 * path protectedResourceMetadataPath(resource) gives, usually `/.well-known/oauth-protected-resource`.
 */
export function protectedResourceHandler(verifier: TokenVerifier): (req: IncomingMessage, res: ServerResponse) => void {
  return (_req, res) => {
    const metadata = verifier.resourceMetadata;
    res.statusCode = metadata ? 200 : 404;
    res.setHeader('content-type', 'application/json');
    res.setHeader('cache-control', 'public, max-age=3600');
    res.end(JSON.stringify(metadata ?? { error: 'not_found' }));
  };
}

/** Writes a TokenError as the answer of a Node response. */
export function sendTokenError(res: ServerResponse, error: TokenError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.statusCode = error.status;
  for (const [name, value] of Object.entries(errorHeaders(error))) res.setHeader(name, value);
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(error.body));
}

/** The headers every refusal carries. */
export function errorHeaders(error: TokenError): Record<string, string> {
  const headers: Record<string, string> = { 'www-authenticate': error.wwwAuthenticate, 'cache-control': 'no-store' };
  if (error.status === 503) headers['retry-after'] = '1';
  return headers;
}

/** node:http joins nothing for Authorization (duplicates are dropped), but a custom server might pass an array. */
function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? undefined : value;
}
