import { applyDecorators, createParamDecorator, HttpStatus, UseGuards, type ExecutionContext } from '@nestjs/common';
import { ApiBasicAuth, ApiResponse } from '@nestjs/swagger';
import { Public } from '../auth/decorators/public.decorator.js';
import { ApiErrorResponse, RETRY_AFTER_HEADER } from '../common/http/error-response.dto.js';
import { OAuthErrorDto } from '../oauth/dto/oauth.dto.js';
import type { ApiClient } from './api-client.entity.js';
import { THROTTLED_WHAT } from './client-auth.throttle.js';
import {
  AUTHENTICATED_CLIENT,
  CLIENT_REALM,
  ClientAuthGuard,
  type ClientAuthenticatedRequest,
} from './client-auth.guard.js';

/** The name of the Basic security scheme in the OpenAPI document (declared in app.setup.ts). */
export const CLIENT_AUTH_SCHEME = 'client_secret_basic';

const THROTTLED = 'Too many failed client authentications from this address; see Retry-After';

export interface ClientAuthOptions {
  /**
   * True on a route in OAUTH_PATHS, whose errors are all OAuth error responses: its 429 is then
   * documented as `slow_down` (the 401 `invalid_client` is one everywhere).
   */
  oauthErrors?: boolean;
}

/**
 * A route for resource-server clients (`client_secret_basic`) instead of users: no access token
 * (the global JWT guard steps aside), the client's id and secret in HTTP Basic. Documents the
 * scheme, the 401 `invalid_client` and the 429 of the per-IP throttle.
 */
export const ClientAuth = ({ oauthErrors = false }: ClientAuthOptions = {}) =>
  applyDecorators(
    Public(),
    UseGuards(ClientAuthGuard),
    ApiBasicAuth(CLIENT_AUTH_SCHEME),
    ApiResponse({
      status: HttpStatus.UNAUTHORIZED,
      description: 'Missing or wrong client credentials (RFC 6749 §5.2 `invalid_client`)',
      type: OAuthErrorDto,
      example: { error: 'invalid_client', error_description: 'Client authentication failed' },
      headers: {
        'WWW-Authenticate': {
          description: `Basic challenge: \`Basic realm="${CLIENT_REALM}", charset="UTF-8"\``,
          schema: { type: 'string' },
        },
      },
    }),
    oauthErrors
      ? ApiResponse({
          status: HttpStatus.TOO_MANY_REQUESTS,
          description: THROTTLED,
          type: OAuthErrorDto,
          headers: RETRY_AFTER_HEADER,
          example: { error: 'slow_down', error_description: `Too many ${THROTTLED_WHAT}; try again in 900 s` },
        })
      : ApiErrorResponse(HttpStatus.TOO_MANY_REQUESTS, THROTTLED, {
          message: `Too many ${THROTTLED_WHAT}; try again in 900 s`,
          headers: RETRY_AFTER_HEADER,
        }),
  );

/** The client @ClientAuth() authenticated. */
export const AuthenticatedClient = createParamDecorator((_data: unknown, context: ExecutionContext): ApiClient => {
  const client = context.switchToHttp().getRequest<ClientAuthenticatedRequest>()[AUTHENTICATED_CLIENT];
  // Only reachable by a handler without @ClientAuth(): a programming error, not a client's.
  if (!client) throw new Error('@AuthenticatedClient() used on a route without @ClientAuth()');
  return client;
});
