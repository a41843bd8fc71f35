import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DatabaseBusyError, isSqliteBusy } from '../../database/database-busy.error.js';
import { OAUTH_PATHS } from '../../oauth/oauth-paths.js';
import { BearerAuthException } from '../http/bearer-auth.exception.js';
import { ClientAuthException } from '../http/client-auth.exception.js';
import { InsufficientScopeException } from '../http/insufficient-scope.exception.js';
import { boundedMessage, errorBody } from '../http/error-body.js';
import { NO_STORE_HEADERS } from '../http/no-store.js';
import { OAuthException } from '../http/oauth.exception.js';
import { ServerBusyException } from '../http/server-busy.exception.js';
import { TooManyAttemptsException } from '../http/too-many-attempts.exception.js';
import { WrongMethodException } from '../http/wrong-method.exception.js';

const logger = new Logger('ExceptionFilter');

export interface ErrorResponse {
  status: number;
  body: object;
  headers: Record<string, string>;
}

/**
 * Turns any error into `{statusCode, error, message}` (or an OAuth error on the OAuth endpoints).
 * Client errors keep their message; anything unexpected is logged with its stack and answered
 * with a bare 500.
 */
export function toErrorResponse(exception: unknown, path = ''): ErrorResponse {
  const headers: Record<string, string> = {};
  if (
    exception instanceof BearerAuthException ||
    exception instanceof InsufficientScopeException ||
    exception instanceof ClientAuthException
  )
    headers['WWW-Authenticate'] = exception.challenge();
  if (exception instanceof TooManyAttemptsException) headers['Retry-After'] = String(exception.retryAfterSeconds);
  if (exception instanceof WrongMethodException) headers.Allow = exception.allow.join(', ');
  if (exception instanceof ServerBusyException) {
    headers['Retry-After'] = String(exception.retryAfterSeconds);
    // RFC 6749 registers `temporarily_unavailable` for exactly this (§4.1.2.1); token clients know it.
    if (OAUTH_PATHS.includes(path)) {
      return {
        status: 503,
        body: { error: 'temporarily_unavailable', error_description: exception.message },
        headers: { ...headers, ...NO_STORE_HEADERS },
      };
    }
  }

  if (exception instanceof OAuthException) {
    return {
      status: exception.getStatus(),
      body: exception.getResponse() as object,
      headers: { ...headers, ...NO_STORE_HEADERS },
    };
  }

  // Terminus' 503 carries the per-dependency report; that is the useful body for /health.
  if (path === '/health' && exception instanceof HttpException && exception.getStatus() === 503) {
    return { status: 503, body: exception.getResponse() as object, headers };
  }

  let status: number;
  let message: string | string[];
  if (exception instanceof HttpException) {
    status = exception.getStatus();
    const response = exception.getResponse();
    message =
      typeof response === 'object' && response !== null && 'message' in response
        ? (response as { message: string | string[] }).message
        : exception.message;
  } else if (isFastifyClientError(exception)) {
    // Errors Fastify raises while reading the request (bad JSON, body too large, media type);
    // Nest routes them here too.
    status = exception.statusCode;
    message = clientMessage(exception.code, exception.message);
  } else if (isClientAbort(exception)) {
    // The client went away mid-body (or was cut off by REQUEST_TIMEOUT): nobody reads this
    // answer, and it is no server error to log with a stack, once per stalled connection.
    return { status: 400, body: errorBody(400, 'The request was aborted'), headers };
  } else if (exception instanceof DatabaseBusyError || isSqliteBusy(exception)) {
    // Another process held SQLite's write lock past DATABASE_BUSY_TIMEOUT; nothing was written.
    status = 503;
    message = 'The database is busy; try again shortly';
    headers['Retry-After'] = String(exception instanceof DatabaseBusyError ? exception.retryAfterSeconds : 1);
  } else {
    logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    return { status: 500, body: errorBody(500, 'Internal server error'), headers };
  }

  message = boundedMessage(message);

  if (OAUTH_PATHS.includes(path) && status >= 400 && status < 500) {
    const description = Array.isArray(message) ? message.join('; ') : message;
    // Throttling keeps its 429 and Retry-After; `slow_down` is the closest registered OAuth code (RFC 8628).
    const error = status === 429 ? 'slow_down' : 'invalid_request';
    return {
      // A wrong method keeps its 405, which its Allow header explains.
      status: status === 429 || status === 405 ? status : 400,
      body: { error, error_description: description },
      headers: { ...headers, ...NO_STORE_HEADERS },
    };
  }
  return { status, body: errorBody(status, message), headers };
}

function isFastifyClientError(error: unknown): error is { statusCode: number; code: string; message: string } {
  const e = error as { statusCode?: unknown; code?: unknown } | null;
  return (
    typeof e?.statusCode === 'number' &&
    e.statusCode >= 400 &&
    e.statusCode < 500 &&
    typeof e.code === 'string' &&
    e.code.startsWith('FST_')
  );
}

/** Node's error for a request whose connection closed before its body was read. */
function isClientAbort(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  return e?.code === 'ECONNRESET' && e.message === 'aborted';
}

function clientMessage(code: string, fallback: string): string {
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'Request body is too large';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'Unsupported content type';
    // Fastify's own texts quote the whole path back; the client knows what it sent.
    case 'FST_ERR_BAD_URL':
      return 'The URL is not valid: a percent-encoded sequence in the path is malformed';
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return 'A path segment is too long';
    default:
      return fallback;
  }
}

@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const request = http.getRequest<FastifyRequest>();
    // The matched route, not the raw URL: /auth/%74oken reaches the token endpoint too, and must
    // get its OAuth-shaped errors. Unmatched requests (404s) have no route; their path is used.
    const path = request.routeOptions?.url ?? request.url?.split('?')[0] ?? '';
    const { status, body, headers } = toErrorResponse(exception, path);
    reply.headers(headers).status(status).send(body);
  }
}
