import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { BearerAuthException } from '../http/bearer-auth.exception.js';
import { errorBody, type ErrorBody } from '../http/error-body.js';

const logger = new Logger('ExceptionFilter');

/**
 * Turns any error into `{statusCode, error, message}`. Client errors keep their message;
 * anything unexpected is logged with its stack and answered with a bare 500.
 */
export function toErrorResponse(exception: unknown): { body: ErrorBody; headers: Record<string, string> } {
  const headers: Record<string, string> = {};
  if (exception instanceof BearerAuthException) headers['WWW-Authenticate'] = exception.challenge();

  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const response = exception.getResponse();
    const message =
      typeof response === 'object' && response !== null && 'message' in response
        ? (response as { message: string | string[] }).message
        : exception.message;
    return { body: errorBody(status, message), headers };
  }

  // Errors Fastify raises while reading the request (bad JSON, body too large, media type);
  // Nest routes them here too.
  const fastifyError = exception as { statusCode?: unknown; code?: unknown; message?: unknown };
  if (
    typeof fastifyError?.statusCode === 'number' &&
    fastifyError.statusCode >= 400 &&
    fastifyError.statusCode < 500 &&
    typeof fastifyError.code === 'string' &&
    fastifyError.code.startsWith('FST_')
  ) {
    return { body: errorBody(fastifyError.statusCode, clientMessage(fastifyError.code, String(fastifyError.message))), headers };
  }

  logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
  return { body: errorBody(500, 'Internal server error'), headers };
}

function clientMessage(code: string, fallback: string): string {
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'Request body is too large';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'Unsupported content type';
    default:
      return fallback;
  }
}

@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const { body, headers } = toErrorResponse(exception);
    reply.headers(headers).status(body.statusCode).send(body);
  }
}
