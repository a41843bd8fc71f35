import { UnsupportedMediaTypeException } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction, RouteOptions } from 'fastify';

/**
 * Body limit of the routes that take credentials or tokens: a username, a password or a token,
 * with room to spare. The global limit (100 kB) is for everything else.
 */
export const SMALL_BODY_LIMIT = 4 * 1024;

export const JSON_ONLY = ['application/json'] as const;
export const FORM_OR_JSON = ['application/x-www-form-urlencoded', 'application/json'] as const;

interface BodyPolicy {
  /** Undefined: any type (the body is not used). */
  mediaTypes?: readonly string[];
  limit: number;
}

const CONFIG_KEY = 'acceptsBody';

/**
 * The body a route takes: its media types (a body of any other type, or of none, is answered 415
 * naming them, before it is read) and its largest size (413). Applied to the Fastify route by
 * `applyBodyPolicy`, an `onRoute` hook.
 */
export const AcceptsBody = (mediaTypes: readonly string[], limit = SMALL_BODY_LIMIT): MethodDecorator =>
  RouteConfig({ [CONFIG_KEY]: { mediaTypes, limit } satisfies BodyPolicy });

/**
 * For a route that takes no body. Fastify parses whatever a request carries before guards run,
 * so without this a client with no account could make a Bearer route, or the cookie routes,
 * parse 100 kB of JSON (~10 ms of CPU) to answer 401. Clients that send `{}` or an empty body
 * are still served.
 */
export const IgnoresBody = (): MethodDecorator =>
  RouteConfig({ [CONFIG_KEY]: { limit: SMALL_BODY_LIMIT } satisfies BodyPolicy });

/** `onRoute` hook: a route marked @AcceptsBody or @IgnoresBody gets its body limit and media-type check. */
export function applyBodyPolicy(route: RouteOptions): void {
  const policy = (route.config as Record<string, unknown> | undefined)?.[CONFIG_KEY] as BodyPolicy | undefined;
  if (!policy) return;
  route.bodyLimit = policy.limit;
  if (!policy.mediaTypes) return;
  const check = mediaTypeCheck(policy.mediaTypes);
  route.onRequest = route.onRequest ? [...[route.onRequest].flat(), check] : check;
}

function mediaTypeCheck(mediaTypes: readonly string[]) {
  const message = `Content-Type must be ${mediaTypes.join(' or ')}`;
  return (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    const { headers } = request;
    // A request without a body has nothing to parse, whatever it says its type is.
    const hasBody = headers['transfer-encoding'] !== undefined || (headers['content-length'] ?? '0') !== '0';
    const mediaType = headers['content-type']?.split(';', 1)[0].trim().toLowerCase() ?? '';
    done(hasBody && !mediaTypes.includes(mediaType) ? new UnsupportedMediaTypeException(message) : undefined);
  };
}
