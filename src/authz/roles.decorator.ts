import { applyDecorators, HttpStatus, SetMetadata, UseGuards } from '@nestjs/common';
import { BearerAuth } from '../auth/decorators/bearer-auth.decorator.js';
import { ApiErrorResponse } from '../common/http/error-response.dto.js';
import { ROLES_KEY, RolesGuard } from './roles.guard.js';

/**
 * A route (or, on a controller, every route in it) for users holding at least one of `roles`,
 * as the access token's `roles` claim says. Runs after the global JWT guard: no or a bad token
 * is still its 401; a valid token without the role is a 403 `insufficient_scope`. Documents the
 * Bearer scheme and both errors in the OpenAPI document.
 */
export const Roles = (...roles: [string, ...string[]]) =>
  applyDecorators(
    SetMetadata(ROLES_KEY, roles),
    UseGuards(RolesGuard),
    BearerAuth(),
    ApiErrorResponse(HttpStatus.FORBIDDEN, `The access token lacks the role (one of: ${roles.join(', ')})`, {
      message: 'The access token does not grant access to this resource',
      headers: {
        'WWW-Authenticate': {
          description: 'RFC 6750 challenge: `Bearer realm="nest-token-auth", error="insufficient_scope"`',
          schema: { type: 'string' },
        },
      },
    }),
  );
