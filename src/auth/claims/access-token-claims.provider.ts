/**
 * The extension point through which a module of this monolith adds claims to access tokens.
 * Register a provider under ACCESS_TOKEN_CLAIMS in your own module; it is found at start-up
 * (AccessTokenClaimsService), and what its `claims()` returns is merged into every access token
 * this server signs, at login and at each refresh.
 */

/**
 * The token under which a module registers its claims provider:
 * `{ provide: ACCESS_TOKEN_CLAIMS, useClass: MyClaimsProvider }`. Several modules may each
 * register one; none needs exporting. A string rather than a symbol, so a second copy of this
 * file (a team's package built against its own) still names the same token.
 */
export const ACCESS_TOKEN_CLAIMS = 'ACCESS_TOKEN_CLAIMS';

/**
 * How the token being signed is issued, named after the OAuth grant types (RFC 6749):
 * `password` for a password login (`POST /auth/login`, `grant_type=password`), which starts a
 * session; `refresh_token` for a refresh of that session (`POST /auth/refresh`, cookie or body,
 * and `grant_type=refresh_token`).
 */
export type AccessTokenGrant = 'password' | 'refresh_token';

/** What a claims provider knows about the token being signed. Read-only: changing it changes nothing. */
export interface AccessTokenClaimsContext {
  readonly user: {
    readonly id: string;
    /** As the user typed it at registration. */
    readonly username: string;
    /** The roles the token's `roles` claim carries (sorted; empty when none). */
    readonly roles: readonly string[];
  };
  readonly session: {
    readonly id: string;
    /** When the password login that started the session happened (epoch ms): the `auth_time` claim. */
    readonly authTime: number;
    /** The session's absolute end (epoch ms, SESSION_MAX_AGE); the token's `exp` is never later. */
    readonly expiresAt: number;
    /** The scopes granted to the session at login; empty when none. */
    readonly scopes: readonly string[];
  };
  readonly grant: AccessTokenGrant;
  /**
   * The scopes this token carries (its `scope` claim): the session's, or the part of them a
   * `grant_type=refresh_token` asked for.
   */
  readonly scopes: readonly string[];
}

/**
 * Adds claims to every access token. Return a plain object of JSON values (an empty one adds
 * nothing); a reserved name (RESERVED_ACCESS_TOKEN_CLAIMS), a name another provider also set,
 * a result that is not a plain JSON object, or a throw refuses the token: the client gets a bare
 * 500, the server logs one line naming the provider, and the session being issued for is revoked.
 * Runs on every login and refresh, so keep it fast; it is awaited.
 */
export interface AccessTokenClaimsProvider {
  claims(context: AccessTokenClaimsContext): Record<string, unknown> | Promise<Record<string, unknown>>;
}

/**
 * Claims a provider may not set. Ours (`sid roles scope auth_time amr typ`), RFC 7519's registered
 * ones (`iss sub aud exp nbf iat jti`), and those that change what a resource server believes about
 * who the token is for or how it may be used: `client_id` and `acr` (RFC 9068 §2.2), `azp` (OpenID
 * Connect), `cnf` (RFC 7800: a proof-of-possession key a resource server would then demand) and
 * `act` / `may_act` (RFC 8693: delegation). `__proto__` too: a consumer that copies claims with
 * Object.assign would have its prototype replaced.
 */
export const RESERVED_ACCESS_TOKEN_CLAIMS: ReadonlySet<string> = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'nbf',
  'iat',
  'jti',
  'sid',
  'roles',
  'scope',
  'auth_time',
  'amr',
  'typ',
  'client_id',
  'acr',
  'azp',
  'cnf',
  'act',
  'may_act',
  '__proto__',
]);
