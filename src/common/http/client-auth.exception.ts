import { HttpStatus } from '@nestjs/common';
import { OAuthException } from './oauth.exception.js';

/**
 * 401 `invalid_client` (RFC 6749 §5.2) for a route that takes client credentials, with the
 * `WWW-Authenticate: Basic` challenge the RFC asks for when the client used (or should use)
 * HTTP Basic. Answered without caching, like every OAuth error.
 */
export class ClientAuthException extends OAuthException {
  constructor(
    readonly realm: string,
    description: string,
  ) {
    super('invalid_client', description, HttpStatus.UNAUTHORIZED);
  }

  challenge(): string {
    return `Basic realm="${this.realm.replace(/\\/g, '\\\\').replace(/"/g, "'")}", charset="UTF-8"`;
  }
}
