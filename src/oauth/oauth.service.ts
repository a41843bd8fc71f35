import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { AuditService } from '../audit/audit.service.js';
import { AccessTokenService } from '../auth/access-token.service.js';
import { AccountDisabledException } from '../auth/account-disabled.exception.js';
import { AuthService, type TokenPair } from '../auth/auth.service.js';
import { OAuthException } from '../common/http/oauth.exception.js';
import { InvalidScopeError } from '../common/scope.js';
import { ScopePolicyService } from '../auth/scopes/scope-policy.service.js';
import type { AppConfig, AuthConfig } from '../config/app-config.js';
import { InvalidRefreshTokenError } from '../sessions/invalid-refresh-token.error.js';
import { refreshTokenCodec } from '../sessions/refresh-token.codec.js';
import type { ClientInfo } from '../common/http/client-info.js';
import { SessionsService } from '../sessions/sessions.service.js';
import type { AuthorizationServerMetadataDto } from './dto/oauth.dto.js';
import type { OAuthParams } from './oauth-params.js';

/** The OAuth 2.0 token and revocation endpoints, over the same sessions as the cookie flow. */
@Injectable()
export class OAuthService {
  private readonly auth: AuthConfig;

  constructor(
    private readonly authFlow: AuthService,
    private readonly sessions: SessionsService,
    private readonly accessTokens: AccessTokenService,
    private readonly audit: AuditService,
    private readonly scopes: ScopePolicyService,
    config: ConfigService<AppConfig, true>,
  ) {
    this.auth = config.get('auth', { infer: true });
  }

  grantTypes(): string[] {
    return this.auth.passwordGrantEnabled ? ['refresh_token', 'password'] : ['refresh_token'];
  }

  /** RFC 6749 §4.3 and §6. Errors are OAuthExceptions. */
  async token(params: OAuthParams, client: ClientInfo): Promise<TokenPair> {
    const grantType = params.required('grant_type');
    params.optional('client_id');
    const rawScope = params.optional('scope');
    if (grantType === 'refresh_token') {
      const refreshToken = params.required('refresh_token');
      // No `scope` (or an empty one): the session's whole grant (RFC 6749 §6).
      const requested = this.requestedScope(rawScope);
      try {
        return await this.authFlow.refresh(refreshToken, client, requested.length ? requested : undefined);
      } catch (error) {
        if (error instanceof InvalidRefreshTokenError) {
          throw new OAuthException(
            'invalid_grant',
            'The refresh token is invalid, expired, revoked or was already used',
          );
        }
        if (error instanceof InvalidScopeError) throw new OAuthException('invalid_scope', error.message);
        throw error;
      }
    }
    if (grantType === 'password' && this.auth.passwordGrantEnabled) {
      const username = params.required('username');
      const password = params.required('password');
      // Before the password: a refused scope costs no hash and no attempt.
      const scope = this.requestedScope(rawScope);
      const user = await this.authFlow.verifyLogin(username, password, client).catch((error: unknown) => {
        if (error instanceof AccountDisabledException) throw new OAuthException('invalid_grant', 'account disabled');
        throw error;
      });
      const pair = user && (await this.authFlow.login(user, client, scope));
      if (!pair) throw new OAuthException('invalid_grant', 'Invalid username or password');
      return pair;
    }
    throw new OAuthException('unsupported_grant_type', `grant_type "${grantType}" is not supported`);
  }

  /** The tokens of a `scope` parameter, each one of ALLOWED_SCOPES; else invalid_scope (RFC 6749 §5.2). */
  private requestedScope(raw: string | undefined): string[] {
    try {
      return this.scopes.requested(raw);
    } catch (error) {
      if (error instanceof InvalidScopeError) throw new OAuthException('invalid_scope', error.message);
      throw error;
    }
  }

  /**
   * RFC 7009: revokes the session of a refresh token, or of a valid access token. Unknown,
   * invalid and already revoked tokens are not errors: the answer is the same 200.
   */
  async revoke(params: OAuthParams, client: ClientInfo): Promise<void> {
    const token = params.required('token');
    params.optional('token_type_hint');
    params.optional('client_id');
    let revoked: { sessionId: string; userId: string } | undefined;
    if (refreshTokenCodec.isWellFormed(token)) {
      revoked = await this.sessions.revokeByToken(token, 'revoked');
    } else {
      const claims = await this.accessTokens.verify(token);
      if (claims && (await this.sessions.revoke(claims.sid, 'revoked'))) {
        revoked = { sessionId: claims.sid, userId: claims.sub };
      }
    }
    if (revoked)
      await this.audit.record('session_revoked', { ...revoked, ...client, detail: { via: 'revocation_endpoint' } });
  }

  /** RFC 8414 metadata; endpoints are relative to the issuer URL. */
  metadata(): AuthorizationServerMetadataDto {
    const issuer = this.auth.issuer;
    return {
      issuer,
      token_endpoint: `${issuer}/auth/token`,
      revocation_endpoint: `${issuer}/auth/revoke`,
      // With HS256 there is nothing to publish: resource servers need the shared secret.
      ...(this.auth.jwtAlg === 'HS256' ? {} : { jwks_uri: `${issuer}/.well-known/jwks.json` }),
      grant_types_supported: this.grantTypes(),
      token_endpoint_auth_methods_supported: ['none'],
      revocation_endpoint_auth_methods_supported: ['none'],
      introspection_endpoint: `${issuer}/auth/introspect`,
      introspection_endpoint_auth_methods_supported: ['client_secret_basic'],
      // No authorization endpoint (yet): no response types.
      response_types_supported: [],
      ...(this.scopes.supported().length ? { scopes_supported: [...this.scopes.supported()] } : {}),
      service_documentation: `${issuer}/docs`,
    };
  }
}
