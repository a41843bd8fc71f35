import { UnauthorizedException } from '@nestjs/common';

/**
 * 401 for a Bearer-protected route, carrying the RFC 6750 `WWW-Authenticate` challenge.
 * `error` is left out when the request had no credentials at all (RFC 6750 §3.1).
 */
export class BearerAuthException extends UnauthorizedException {
  constructor(
    readonly realm: string,
    readonly challengeError?: 'invalid_token' | 'invalid_request',
    description = challengeError ? 'The access token is invalid or expired' : 'An access token is required',
  ) {
    super(description);
  }

  challenge(): string {
    const params = [`realm="${this.realm}"`];
    if (this.challengeError) {
      params.push(`error="${this.challengeError}"`, `error_description="${this.message.replace(/"/g, "'")}"`);
    }
    return `Bearer ${params.join(', ')}`;
  }
}
