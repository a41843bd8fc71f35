import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { PassportStrategy } from '@nestjs/passport';
import { Strategy, type JwtFromRequestFunction, type SecretOrKeyProvider } from 'passport-jwt';
import { bearerToken, type BearerRequest } from '../bearer-token.js';
import type { AppConfig } from '../../config/app-config.js';
import { SessionStateCache } from '../../sessions/session-state.cache.js';
import { AccessTokenService, hasAccessTokenClaims, rolesOf, type AccessTokenClaims } from '../access-token.service.js';
import type { AccessTokenPrincipal } from '../decorators/current-user.decorator.js';
import { VerifiedTokenCache } from '../verified-token.cache.js';

@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  private readonly verified = new VerifiedTokenCache();

  constructor(
    accessTokens: AccessTokenService,
    private readonly sessionState: SessionStateCache,
    config: ConfigService<AppConfig, true>,
  ) {
    const auth = config.get('auth', { infer: true });
    super({
      jwtFromRequest: bearerToken as JwtFromRequestFunction,
      // Only our keys, our algorithm and our token type (see AccessTokenService.keyFor).
      secretOrKeyProvider: ((_req, rawJwt: string, done) => {
        accessTokens
          .keyFor(rawJwt)
          .then((key) => {
            if (!key) return done(new Error('not an access token signed with a key we publish'));
            // jsonwebtoken takes KeyObjects, though passport-jwt's types say string | Buffer.
            done(null, key.verificationKey as unknown as Buffer);
          })
          .catch((error: Error) => done(error));
      }) satisfies SecretOrKeyProvider,
      algorithms: [auth.jwtAlg],
      issuer: auth.issuer,
      audience: auth.audience,
      ignoreExpiration: false,
      passReqToCallback: true,
    });
  }

  /**
   * For a request whose bearer token was verified before (until its exp): the session check's
   * answer, without passport. Undefined when the token is not known, and passport must check it.
   * JwtAuthGuard calls this first: passport's authenticate() builds a middleware, a strategy
   * object and half a dozen closures per request (~3 KB of the ~33 KB a GET /auth/me allocated).
   */
  principalForVerifiedToken(
    request: object,
  ): AccessTokenPrincipal | false | Promise<AccessTokenPrincipal | false> | undefined {
    const token = bearerToken(request as BearerRequest);
    const claims = token ? this.verified.get(token) : undefined;
    if (!claims) return undefined;
    // Most requests find their session's state fresh in memory: answered without a promise, which
    // Nest's guard runner then needs no await for.
    const username = this.sessionState.cachedUsername(claims.sid, claims.sub, claims.iat);
    if (username === undefined) return this.principal(claims);
    return username !== false && principalOf(claims, username);
  }

  /** Skips the signature check for a token verified before (until its exp); the session check always runs. */
  override authenticate(request: BearerRequest, options?: object): void {
    const known = this.principalForVerifiedToken(request);
    // passport-jwt types the request as express's; ours is Fastify's, which has what it reads.
    if (known === undefined) return super.authenticate(request as Parameters<Strategy['authenticate']>[0], options);
    Promise.resolve(known).then(
      (principal) => (principal ? this.success(principal) : this.fail(new Error('session is not active'), 401)),
      (error: Error) => this.error(error),
    );
  }

  /** Called by passport-jwt after a successful signature check. */
  async validate(request: BearerRequest, claims: Partial<AccessTokenClaims>): Promise<AccessTokenPrincipal | false> {
    if (!hasAccessTokenClaims(claims)) return false;
    const token = bearerToken(request);
    if (token) this.verified.set(token, claims);
    return this.principal(claims);
  }

  /**
   * A valid signature is not enough: the session must still be live (revocation reaches access
   * tokens) and the token not older than its user's cut-off (a role change or disable).
   */
  private async principal(claims: AccessTokenClaims): Promise<AccessTokenPrincipal | false> {
    const username = await this.sessionState.activeUsername(claims.sid, claims.sub, claims.iat);
    return username !== undefined && principalOf(claims, username);
  }
}

function principalOf(claims: AccessTokenClaims, username: string): AccessTokenPrincipal {
  return {
    userId: claims.sub,
    username,
    sessionId: claims.sid,
    tokenId: claims.jti,
    roles: rolesOf(claims),
    scopes: claims.scope ? claims.scope.split(' ') : [],
  };
}
