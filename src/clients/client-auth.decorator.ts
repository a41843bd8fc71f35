import { applyDecorators, createParamDecorator, HttpStatus, UseGuards, type ExecutionContext } from '@nestjs/common';
import { ApiBasicAuth, ApiResponse } from '@nestjs/swagger';
import { Public } from '../auth/decorators/public.decorator.js';
import { ApiErrorResponse, RETRY_AFTER_HEADER } from '../common/http/error-response.dto.js';
import type { ApiClient } from './api-client.entity.js';
import {
  AUTHENTICATED_CLIENT,
  CLIENT_REALM,
  ClientAuthGuard,
  type ClientAuthenticatedRequest,
} from './client-auth.guard.js';

/** The name of the Basic security scheme in the OpenAPI document (declared in app.setup.ts). */
export const CLIENT_AUTH_SCHEME = 'client_secret_basic';

/**
 * A route for resource-server clients (`client_secret_basic`) instead of users: no access token
 * (the global JWT guard steps aside), the client's id and secret in HTTP Basic. Documents the
 * scheme, the 401 `invalid_client` and the 429 of the per-IP throttle.
 */
export const ClientAuth = () =>
  applyDecorators(
    Public(),
    UseGuards(ClientAuthGuard),
    ApiBasicAuth(CLIENT_AUTH_SCHEME),
    ApiResponse({
      status: HttpStatus.UNAUTHORIZED,
      description: 'Missing or wrong client credentials (RFC 6749 §5.2 `invalid_client`)',
      headers: {
        'WWW-Authenticate': {
          description: `Basic challenge: \`Basic realm="${CLIENT_REALM}", charset="UTF-8"\``,
          schema: { type: 'string' },
        },
      },
      schema: {
        type: 'object',
        required: ['error', 'error_description'],
        properties: {
          error: { type: 'string', enum: ['invalid_client'] },
          error_description: { type: 'string', example: 'Client authentication failed' },
        },
      },
    }),
    ApiErrorResponse(
      HttpStatus.TOO_MANY_REQUESTS,
      'Too many failed client authentications from this address; see Retry-After',
      {
        headers: RETRY_AFTER_HEADER,
      },
    ),
  );

/** The client @ClientAuth() authenticated. */
export const AuthenticatedClient = createParamDecorator((_data: unknown, context: ExecutionContext): ApiClient => {
  const client = context.switchToHttp().getRequest<ClientAuthenticatedRequest>()[AUTHENTICATED_CLIENT];
  // Only reachable by a handler without @ClientAuth(): a programming error, not a client's.
  if (!client) throw new Error('@AuthenticatedClient() used on a route without @ClientAuth()');
  return client;
});
