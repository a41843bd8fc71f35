import { ForbiddenException } from '@nestjs/common';
import { bearerChallenge } from './bearer-auth.exception.js';

/**
 * 403 for a valid access token without a scope the route requires, with the RFC 6750 §3.1
 * challenge naming the scopes that would do: `error="insufficient_scope", scope="…"`.
 */
export class InsufficientScopeException extends ForbiddenException {
  constructor(
    readonly realm: string,
    readonly requiredScopes: readonly string[],
  ) {
    super(`The access token lacks a required scope: ${requiredScopes.join(' ')}`);
  }

  challenge(): string {
    return bearerChallenge(this.realm, {
      error: 'insufficient_scope',
      error_description: this.message,
      scope: this.requiredScopes.join(' '),
    });
  }
}
