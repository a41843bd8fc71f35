import { Injectable } from '@nestjs/common';
import { AccessTokenService, hasAccessTokenClaims, rolesOf } from '../auth/access-token.service.js';
import { SessionStateCache } from '../sessions/session-state.cache.js';
import type { IntrospectionResponseDto } from './dto/introspection.dto.js';

/** Longest token looked at; ours are far shorter even with a long scope grant. */
export const MAX_INTROSPECTED_TOKEN_LENGTH = 16 * 1024;

const INACTIVE: IntrospectionResponseDto = Object.freeze({ active: false });

/**
 * RFC 7662 introspection of our access tokens, with the checks the JWT guard makes: our keys,
 * algorithm and token type, issuer, audience, expiry, and then the session (not revoked, not
 * past its end, its user not disabled) and the user's cut-off (role change, disable), through
 * the same SessionStateCache, so an answer here is the answer our own API would give.
 *
 * Every client may introspect every token: clients are resource servers of our one audience,
 * which all accept the same tokens (RFC 7662 §4 leaves that policy to the server).
 */
@Injectable()
export class IntrospectionService {
  constructor(
    private readonly accessTokens: AccessTokenService,
    private readonly sessionState: SessionStateCache,
  ) {}

  /** The token's claims when it is an active access token; `{active: false}` for anything else, whatever the reason. */
  async introspect(token: string): Promise<IntrospectionResponseDto> {
    if (token.length > MAX_INTROSPECTED_TOKEN_LENGTH) return INACTIVE;
    const claims = await this.accessTokens.verify(token);
    if (!claims || !hasAccessTokenClaims(claims)) return INACTIVE;
    const username = await this.sessionState.activeUsername(claims.sid, claims.sub, claims.iat);
    if (username === undefined) return INACTIVE;
    return {
      active: true,
      token_type: 'Bearer',
      sub: claims.sub,
      sid: claims.sid,
      username,
      roles: rolesOf(claims),
      ...(claims.scope ? { scope: claims.scope } : {}),
      exp: claims.exp,
      iat: claims.iat,
      iss: claims.iss,
      aud: claims.aud,
      jti: claims.jti,
    };
  }
}
