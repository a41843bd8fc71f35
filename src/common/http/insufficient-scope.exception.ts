import { ForbiddenException } from '@nestjs/common';

/**
 * 403 for a valid access token that lacks what the route demands (a role), carrying the
 * RFC 6750 §3.1 challenge `error="insufficient_scope"` in the same realm as the 401s.
 */
export class InsufficientScopeException extends ForbiddenException {
  constructor(
    readonly realm: string,
    description = 'The access token does not grant access to this resource',
  ) {
    super(description);
  }

  challenge(): string {
    return `Bearer realm="${this.realm}", error="insufficient_scope", error_description="${this.message.replace(/"/g, "'")}"`;
  }
}
