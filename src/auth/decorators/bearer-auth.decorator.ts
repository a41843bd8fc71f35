import { applyDecorators, HttpStatus } from '@nestjs/common';
import { ApiBearerAuth } from '@nestjs/swagger';
import { ApiErrorResponse } from '../../common/http/error-response.dto.js';

/**
 * A route that takes an access token (`Authorization: Bearer`). The global JWT guard already
 * protects every route not marked @Public(); this documents it: the Bearer scheme and the 401
 * the guard answers with its RFC 6750 challenge. On a controller, it covers every route in it.
 */
export const BearerAuth = () =>
  applyDecorators(
    ApiBearerAuth(),
    ApiErrorResponse(HttpStatus.UNAUTHORIZED, 'Missing, invalid or expired access token, or its session was revoked', {
      message: 'The access token is invalid or expired',
      headers: {
        'WWW-Authenticate': {
          description:
            'RFC 6750 challenge: `Bearer realm="nest-token-auth"`, with `error="invalid_token"` when a token was sent',
          schema: { type: 'string' },
        },
      },
    }),
  );
