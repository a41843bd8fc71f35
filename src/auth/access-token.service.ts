import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { JwtService } from '@nestjs/jwt';
import type { AppConfig, AuthConfig } from '../config/app-config.js';
import { KeysService, type AccessTokenKey } from '../keys/keys.service.js';
import { isLowS } from './es256-signature.js';
import { PasswordHashQueue } from '../users/password-hash.queue.js';
import { UserRepository, type TokenSubject } from '../users/user.repository.js';
import { signJwt } from './jwt-signer.js';
import { AccessTokenClaimsService } from './claims/access-token-claims.service.js';
import type { AccessTokenClaimsContext, AccessTokenGrant } from './claims/access-token-claims.provider.js';

/** RFC 9068 `typ` header of our access tokens. */
export const ACCESS_TOKEN_TYPE = 'at+jwt';

export interface AccessTokenClaims {
  sub: string;
  sid: string;
  jti: string;
  iat: number;
  exp: number;
  iss: string;
  aud: string;
  /** The user's roles when the token was issued; [] when none (always present). */
  roles: string[];
  /** Space-separated (RFC 9068 §2.2.3); present only when scopes were granted. */
  scope?: string;
  /** Epoch seconds of the password login that started the session (OpenID Connect Core §2). */
  auth_time: number;
  /** How the user authenticated (RFC 8176): by password, the only way there is. */
  amr: string[];
}

/**
 * Whether verified claims have what every token we issue has (`exp` above all: one without it
 * would never expire). Checked by everything that accepts an access token: the JWT guard and
 * introspection.
 */
export function hasAccessTokenClaims(claims: Partial<AccessTokenClaims>): claims is AccessTokenClaims {
  return (
    typeof claims.sub === 'string' &&
    typeof claims.sid === 'string' &&
    typeof claims.jti === 'string' &&
    typeof claims.exp === 'number' &&
    typeof claims.iat === 'number' &&
    (claims.scope === undefined || typeof claims.scope === 'string')
  );
}

/** The token's roles; tokens issued before roles existed have none (they expire within ACCESS_TOKEN_TTL). */
export function rolesOf(claims: AccessTokenClaims): string[] {
  const roles: unknown = claims.roles;
  return Array.isArray(roles) ? roles.filter((role): role is string => typeof role === 'string') : [];
}

/** What a token says about the session it is issued for. */
export interface AccessTokenSubject {
  userId: string;
  sessionId: string;
  /** The session's absolute end (ms); caps `exp`. */
  sessionExpiresAt: number;
  /** The session's password login (ms). */
  authTime: number;
  /** The granted scope, space-separated; none when undefined. */
  scope?: string;
  /** The session's whole grant (space-separated; null when none), for claims providers; `scope` when absent. */
  sessionScope?: string | null;
  /** A password login or a refresh: what claims providers are told. */
  grant: AccessTokenGrant;
}

export interface SignedAccessToken {
  token: string;
  expiresIn: number;
  /** The token's `scope` claim; undefined when it has none. */
  scope?: string;
}

/** Signs and verifies access tokens: short-lived JWTs naming the user (`sub`) and the session (`sid`). */
@Injectable()
export class AccessTokenService {
  private readonly auth: AuthConfig;

  constructor(
    private readonly jwt: JwtService,
    private readonly keys: KeysService,
    private readonly hashing: PasswordHashQueue,
    private readonly users: UserRepository,
    private readonly extraClaims: AccessTokenClaimsService,
    config: ConfigService<AppConfig, true>,
  ) {
    this.auth = config.get('auth', { infer: true });
  }

  /**
   * `sessionExpiresAt` (ms) caps `exp`: resource servers that only check the signature must not
   * accept a token after the session's absolute end (SESSION_MAX_AGE), which our guard enforces.
   * The user's roles are read now, so a role change reaches the next token issued. `scope`
   * (space-separated) becomes the `scope` claim; none when undefined.
   *
   * A role change sets the user's cut-off at the next whole second (see UserCutOffService);
   * tokens with an earlier `iat` are refused. A token issued within that second would be born
   * refused, so issuing waits the rest of the second out (at most 1 s, only right after a change).
   *
   * Claims of the modules' ACCESS_TOKEN_CLAIMS providers are merged in; one that fails or sets a
   * reserved claim throws AccessTokenClaimsError and nothing is signed. With no provider
   * registered, this costs one property read.
   */
  async sign(subjectOfToken: AccessTokenSubject): Promise<SignedAccessToken> {
    const { userId, sessionId, sessionExpiresAt, authTime, scope } = subjectOfToken;
    let subject = await this.users.tokenSubject(userId);
    let roles: string[];
    let extra: Record<string, unknown> | undefined;
    let signing: AccessTokenKey;
    let iat: number;
    for (let attempt = 1; ; attempt++) {
      roles = subject?.roles ?? [];
      await waitUntil(subject?.notBefore ?? 0);
      extra = this.extraClaims.enabled
        ? await this.extraClaims.collect(claimsContext(subjectOfToken, subject?.username ?? '', roles))
        : undefined;
      signing = await this.keys.signingKey();
      iat = Math.floor(Date.now() / 1000);
      // A change that committed after the roles were read but before iat was fixed could leave
      // this token with the old roles and an iat at or past that change's cut-off (two changes in
      // one second, a slow claims provider). Read again now that iat is fixed: a change committed
      // before this read shows here; one committed after it has its cut-off past iat.
      const now = await this.users.tokenSubject(userId);
      if (sameSubject(subject, now, iat)) break;
      if (attempt >= MAX_SIGN_ATTEMPTS) {
        // Safe roles still: everything committed before the re-read is in them, and anything
        // after it has a cut-off past iat.
        roles = now?.roles ?? [];
        break;
      }
      subject = now;
    }
    const { kid, alg, signingKey } = signing;
    const exp = Math.max(iat, Math.min(iat + this.auth.accessTokenTtl, Math.floor(sessionExpiresAt / 1000)));
    const claims: AccessTokenClaims = {
      sid: sessionId,
      iat,
      exp,
      iss: this.auth.issuer,
      aud: this.auth.audience,
      sub: userId,
      jti: randomUUID(),
      roles,
      auth_time: Math.floor(authTime / 1000),
      amr: ['pwd'],
      ...(scope ? { scope } : {}),
    };
    // Ours last: collect() refused any overlap already, and a provider's claim can never win anyway.
    const payload = extra ? { ...extra, ...claims } : claims;
    // Never behind password hashes: while they fill libuv's pool, sign on the event loop.
    const token = await signJwt({ alg, typ: ACCESS_TOKEN_TYPE, kid }, payload, signingKey, {
      inline: this.hashing.saturated,
    });
    return { token, expiresIn: exp - iat, ...(scope ? { scope } : {}) };
  }

  /**
   * The key that may verify this token, or undefined: only keys we publish, only the configured
   * algorithm, only access tokens (RFC 9068 `typ`). That rules out `alg: none`, HS256 signed
   * with our public key, and other JWTs of ours. The header is read, not trusted. An ES256
   * signature must be the low-s one we sign (its high-s twin verifies too; see es256-signature.ts).
   */
  async keyFor(rawJwt: string): Promise<AccessTokenKey | undefined> {
    if (!isCanonicalCompactJws(rawJwt)) return undefined;
    const header = readHeader(rawJwt);
    if (!header || !isAccessTokenType(header.typ)) return undefined;
    const key = await this.keys.verificationKey(
      typeof header.kid === 'string' ? header.kid : undefined,
      String(header.alg),
    );
    if (key?.alg === 'ES256' && !isLowS(Buffer.from(rawJwt.slice(rawJwt.lastIndexOf('.') + 1), 'base64url')))
      return undefined;
    return key;
  }

  /** Verifies an access token as the JWT guard does; returns its claims or undefined. */
  async verify(token: string): Promise<AccessTokenClaims | undefined> {
    try {
      const key = await this.keyFor(token);
      if (!key) return undefined;
      return this.jwt.verify<AccessTokenClaims>(token, {
        // jsonwebtoken takes KeyObjects, though @nestjs/jwt's types say string | Buffer.
        publicKey: key.verificationKey as unknown as Buffer,
        algorithms: [key.alg],
        issuer: this.auth.issuer,
        audience: this.auth.audience,
      });
    } catch {
      return undefined;
    }
  }
}

/** Changes racing one issue: beyond this many in a row, the token is signed with the last roles read. */
const MAX_SIGN_ATTEMPTS = 5;
/**
 * The longest an issue waits for a cut-off. One whole second is the most a cut-off of ours is
 * ever ahead of the clock that set it; more means clocks disagree (an instance or the CLI host
 * without NTP), and waiting it out would hold a rotated refresh token the client has not seen.
 */
const MAX_CUT_OFF_WAIT_MS = 1100;

/** Until Date.now() reaches `notBefore` (ms), at most MAX_CUT_OFF_WAIT_MS. */
async function waitUntil(notBefore: number): Promise<void> {
  const until = Math.min(notBefore, Date.now() + MAX_CUT_OFF_WAIT_MS);
  // A loop, not one sleep: Node times sleeps on its monotonic clock, and one can end a
  // millisecond before Date.now() reaches the cut-off, which would sign a token born refused.
  for (let wait = until - Date.now(); wait > 0; wait = until - Date.now()) await sleep(wait);
}

/** True when nothing that goes into the token changed between the two reads and `iat` passes the cut-off. */
function sameSubject(read: TokenSubject | undefined, reread: TokenSubject | undefined, iat: number): boolean {
  if (!read || !reread) return read === reread;
  return (
    read.notBefore === reread.notBefore &&
    (reread.notBefore ?? 0) <= iat * 1000 &&
    read.roles.length === reread.roles.length &&
    read.roles.every((role, i) => role === reread.roles[i])
  );
}

/** What claims providers are told, frozen: a provider that changes it changes nothing (roles above all). */
function claimsContext(
  { userId, sessionId, sessionExpiresAt, authTime, scope, sessionScope, grant }: AccessTokenSubject,
  username: string,
  roles: readonly string[],
): AccessTokenClaimsContext {
  const split = (value: string | null | undefined) => Object.freeze(value ? value.split(' ') : []);
  return Object.freeze({
    user: Object.freeze({ id: userId, username, roles: Object.freeze([...roles]) }),
    session: Object.freeze({
      id: sessionId,
      authTime,
      expiresAt: sessionExpiresAt,
      scopes: split(sessionScope === undefined ? scope : sessionScope),
    }),
    grant,
    scopes: split(scope),
  });
}

interface JoseHeader {
  alg?: unknown;
  kid?: unknown;
  typ?: unknown;
}

/**
 * Three segments, each in the one base64url spelling that round-trips. Decoders ignore the
 * spare low bits of the last character (and accept `=` or `+/`), so without this one signed
 * token would have several spellings that all verify: a caller could mint a "different" token
 * that is the same credential, and tests or caches keyed by the string would disagree.
 */
function isCanonicalCompactJws(rawJwt: string): boolean {
  const segments = rawJwt.split('.');
  return (
    segments.length === 3 &&
    segments.every(
      (segment) => BASE64URL.test(segment) && Buffer.from(segment, 'base64url').toString('base64url') === segment,
    )
  );
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** A JWT's header, or undefined when it is not a JSON object. */
function readHeader(rawJwt: string): JoseHeader | undefined {
  try {
    const header = JSON.parse(Buffer.from(rawJwt.split('.')[0], 'base64url').toString('utf8')) as unknown;
    return typeof header === 'object' && header !== null ? header : undefined;
  } catch {
    return undefined;
  }
}

function isAccessTokenType(typ: unknown): boolean {
  return typeof typ === 'string' && [ACCESS_TOKEN_TYPE, `application/${ACCESS_TOKEN_TYPE}`].includes(typ.toLowerCase());
}
