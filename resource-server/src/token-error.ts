/** RFC 6750 §3.1 error codes, plus `temporarily_unavailable` when the kit cannot vouch for a token. */
export type TokenErrorCode = 'invalid_token' | 'insufficient_scope' | 'temporarily_unavailable';

/**
 * Why a token was refused, for logs and tests; never sent to the client, which gets `code` and
 * `description` only.
 */
export type TokenErrorReason =
  | 'missing'
  | 'malformed'
  | 'invalid'
  | 'expired'
  | 'revoked'
  | 'inactive'
  | 'roles'
  | 'scopes'
  | 'stale'
  | 'unavailable';

/** What a refused request should answer: `status`, the `WWW-Authenticate` value and `body` as JSON. */
export class TokenError extends Error {
  override readonly name = 'TokenError';

  constructor(
    readonly status: 401 | 403 | 503,
    readonly code: TokenErrorCode,
    readonly description: string,
    readonly wwwAuthenticate: string,
    readonly reason: TokenErrorReason,
  ) {
    super(description);
  }

  /** The JSON body to send (RFC 6750 error names). */
  get body(): { error: TokenErrorCode; error_description: string } {
    return { error: this.code, error_description: this.description };
  }
}

export interface ChallengeSettings {
  realm?: string;
  /** RFC 9728 §5.1: where a client finds this resource's metadata. */
  resourceMetadataUrl?: string;
}

/** Builds each TokenError with the Bearer challenge this resource server sends. */
export class TokenErrors {
  constructor(private readonly settings: ChallengeSettings) {}

  /** No Bearer credentials at all: RFC 6750 §3.1 says the challenge then carries no error code. */
  missing(): TokenError {
    return new TokenError(401, 'invalid_token', 'A Bearer access token is required', this.challenge(), 'missing');
  }

  invalid(reason: 'malformed' | 'invalid' | 'expired' | 'revoked' | 'inactive'): TokenError {
    const description = DESCRIPTIONS[reason];
    return new TokenError(401, 'invalid_token', description, this.challenge('invalid_token', description), reason);
  }

  insufficient(reason: 'roles' | 'scopes', required: readonly string[]): TokenError {
    const description =
      reason === 'roles'
        ? `The access token lacks a required role (one of: ${required.join(', ')})`
        : `The access token lacks a required scope (all of: ${required.join(' ')})`;
    const scope = reason === 'scopes' ? required.join(' ') : undefined;
    return new TokenError(
      403,
      'insufficient_scope',
      description,
      this.challenge('insufficient_scope', description, scope),
      reason,
    );
  }

  /** 503: the kit could not hear the auth server recently enough to vouch for the token. */
  unavailable(reason: 'stale' | 'unavailable'): TokenError {
    const description =
      reason === 'stale'
        ? 'The revocation feed is out of date; try again shortly'
        : 'The authorization server cannot be reached; try again shortly';
    return new TokenError(503, 'temporarily_unavailable', description, this.challenge(), reason);
  }

  private challenge(error?: string, description?: string, scope?: string): string {
    const params: string[] = [];
    if (this.settings.realm !== undefined) params.push(`realm=${quote(this.settings.realm)}`);
    if (error !== undefined) params.push(`error=${quote(error)}`);
    if (description !== undefined) params.push(`error_description=${quote(description)}`);
    if (scope !== undefined) params.push(`scope=${quote(scope)}`);
    if (this.settings.resourceMetadataUrl !== undefined) {
      params.push(`resource_metadata=${quote(this.settings.resourceMetadataUrl)}`);
    }
    return params.length ? `Bearer ${params.join(', ')}` : 'Bearer';
  }
}

const DESCRIPTIONS = {
  malformed: 'The access token is malformed',
  invalid: 'The access token is invalid',
  expired: 'The access token expired',
  revoked: 'The access token was revoked',
  inactive: 'The access token is no longer active',
} as const;

/**
 * An RFC 9110 quoted-string holding only what RFC 6750 §3 allows in its attributes (printable
 * ASCII without `"` and `\`), so a role or realm name cannot break the header.
 */
function quote(value: string): string {
  return `"${value.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, '?')}"`;
}
