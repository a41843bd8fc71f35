import { applyDecorators, HttpStatus, SetMetadata, UseGuards } from '@nestjs/common';
import { ApiBearerAuth } from '@nestjs/swagger';
import { ApiErrorResponse } from '../../common/http/error-response.dto.js';
import { SCOPE_TOKEN } from '../../common/scope.js';
import { REQUIRED_SCOPES_KEY, ScopesGuard } from './scopes.guard.js';

/**
 * The access token must carry every scope named (all of them; on a class and a handler, the
 * scopes of both). A valid token without one gets 403 with
 * `WWW-Authenticate: Bearer realm="…", error="insufficient_scope", scope="…"`. Each argument is
 * one scope token; a malformed one is a programming error, refused when the module loads.
 */
export const Scopes = (...scopes: string[]) => {
  const bad = scopes.find((scope) => !SCOPE_TOKEN.test(scope));
  if (!scopes.length || bad !== undefined) {
    throw new Error(`@Scopes() takes one or more RFC 6749 scope tokens; got ${JSON.stringify(bad ?? scopes)}`);
  }
  return applyDecorators(
    SetMetadata(REQUIRED_SCOPES_KEY, scopes),
    UseGuards(ScopesGuard),
    ApiBearerAuth(),
    ApiErrorResponse(HttpStatus.FORBIDDEN, `The access token lacks a required scope (${scopes.join(' ')})`, {
      message: `The access token lacks a required scope: ${scopes.join(' ')}`,
      headers: {
        'WWW-Authenticate': {
          description: `RFC 6750 challenge: \`Bearer realm="nest-token-auth", error="insufficient_scope", scope="${scopes.join(' ')}"\``,
          schema: { type: 'string' },
        },
      },
    }),
  );
};
