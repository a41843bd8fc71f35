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
    return bearerChallenge(
      this.realm,
      this.challengeError && { error: this.challengeError, error_description: this.message },
    );
  }
}

/**
 * An RFC 6750 §3 `WWW-Authenticate: Bearer` challenge. Values are quoted strings; a `"` in one
 * (a message) becomes `'`, and `\` is escaped, so the header always parses.
 */
export function bearerChallenge(realm: string, params: Record<string, string> = {}): string {
  const quoted = (value: string) => `"${value.replace(/\\/g, '\\\\').replace(/"/g, "'")}"`;
  return `Bearer ${[`realm=${quoted(realm)}`, ...Object.entries(params).map(([name, value]) => `${name}=${quoted(value)}`)].join(', ')}`;
}
