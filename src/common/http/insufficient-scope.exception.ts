import { ForbiddenException } from '@nestjs/common';
import { bearerChallenge } from './bearer-auth.exception.js';

/**
 * 403 for a valid access token that lacks what the route demands (a role, or scopes), with the
 * RFC 6750 §3.1 challenge `error="insufficient_scope"` in the same realm as the 401s, naming the
 * scopes that would do when the route requires scopes.
 */
export class InsufficientScopeException extends ForbiddenException {
  constructor(
    readonly realm: string,
    readonly requiredScopes: readonly string[] = [],
  ) {
    super(
      requiredScopes.length
        ? `The access token lacks a required scope: ${requiredScopes.join(' ')}`
        : 'The access token does not grant access to this resource',
    );
  }

  challenge(): string {
    return bearerChallenge(this.realm, {
      error: 'insufficient_scope',
      error_description: this.message,
      ...(this.requiredScopes.length ? { scope: this.requiredScopes.join(' ') } : {}),
    });
  }
}
