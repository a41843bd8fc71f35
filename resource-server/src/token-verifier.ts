import { errors, jwtVerify, type JWTPayload } from 'jose';
import { AuthServerClient, describe } from './auth-server-client.js';
import { readCanonicalHeader } from './compact-jws.js';
import { IntrospectionCache, type Introspection } from './introspection-cache.js';
import { KeysUnavailableError, RemoteKeySet } from './key-set.js';
import { resolveOptions, type ResolvedOptions, type TokenVerifierOptions } from './options.js';
import { principalOf, unmetRequirement, withUsername, type AuthRequirements, type Principal } from './principal.js';
import { RevocationFeed } from './revocation-feed.js';
import { RevocationList } from './revocation-list.js';
import { TokenErrors } from './token-error.js';
import { VerifiedTokenCache, type VerifiedToken } from './verified-token-cache.js';

/** RFC 9728 protected resource metadata. */
export interface ProtectedResourceMetadata {
  readonly resource: string;
  readonly authorization_servers: readonly string[];
  readonly bearer_methods_supported: readonly string[];
  readonly scopes_supported?: readonly string[];
}

export interface TokenVerifier {
  /** Resolves once the JWKS is loaded and every revocation still in force is applied. */
  ready(): Promise<void>;
  /** The principal of a valid, unrevoked access token; throws TokenError otherwise. */
  verify(token: string): Promise<Principal>;
  /**
   * `verify` for an `Authorization` header value, then the route's requirements (`roles`: at
   * least one; `scopes`: all). What the middleware, the Fastify hook and the Nest guard call.
   */
  authenticate(authorization: string | undefined, requirements?: AuthRequirements): Promise<Principal>;
  /**
   * `authenticate` answered synchronously when it can be: a token verified before, not expired,
   * not revoked, meeting the requirements, while the feed is fresh. Undefined otherwise: call
   * `authenticate` for the full check and its error. For adapters that want to skip a turn of
   * the event loop on the common path (the middleware and the Fastify hook do).
   */
  authenticateKnown(authorization: string | undefined, requirements?: AuthRequirements): Principal | undefined;
  /** Ends the feed and the timers. */
  close(): Promise<void>;
  /** The RFC 9728 document to serve, when `resource` is configured. */
  readonly resourceMetadata: ProtectedResourceMetadata | undefined;
}

/** Starts loading keys and following the revocation feed at once; `ready()` says when both are done. */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  return new FeedTokenVerifier(resolveOptions(options));
}

const ACCESS_TOKEN_TYPE = 'at+jwt';
const REQUIRED_CLAIMS = ['sub', 'sid', 'jti', 'iat', 'exp', 'iss', 'aud'];
const SWEEP_INTERVAL_MS = 30_000;
const KEYS_MAX_AGE_MS = 5 * 60_000;
const KEYS_RETRY_MS = 1000;

class FeedTokenVerifier implements TokenVerifier {
  readonly resourceMetadata: ProtectedResourceMetadata | undefined;
  private readonly client: AuthServerClient;
  private readonly revocations = new RevocationList();
  private readonly cache: VerifiedTokenCache;
  private readonly pending = new Map<string, Promise<VerifiedToken>>();
  private readonly keys: RemoteKeySet;
  private readonly feed: RevocationFeed;
  private readonly introspection: IntrospectionCache;
  private readonly errors: TokenErrors;
  private readonly timers: NodeJS.Timeout[] = [];
  private waiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  private feedSynced = false;
  private closed = false;
  private keysFailing = false;
  private introspectionFailing = false;

  constructor(private readonly options: ResolvedOptions) {
    const o = options;
    this.client = new AuthServerClient(o.authServerUrl, o.clientId, o.clientSecret, o.requestTimeoutMs);
    this.cache = new VerifiedTokenCache(o.cacheSize);
    this.errors = new TokenErrors({ realm: o.realm, resourceMetadataUrl: o.resourceMetadataUrl });
    this.keys = new RemoteKeySet(this.client, (kids) => this.cache.dropKeys(kids));
    this.feed = new RevocationFeed(this.client, this.revocations, {
      transport: o.transport,
      maxStalenessMs: o.maxStalenessMs,
      log: o.log,
      onSynced: () => {
        this.feedSynced = true;
        this.settleWaiters();
      },
      onClientAuthenticationError: (error) => this.settleWaiters(error),
    });
    this.introspection = new IntrospectionCache((token) => this.introspect(token), o.cacheSize);
    this.resourceMetadata =
      o.resource === undefined
        ? undefined
        : Object.freeze({
            resource: o.resource,
            authorization_servers: Object.freeze([o.issuer]),
            bearer_methods_supported: Object.freeze(['header']),
            ...(o.scopesSupported ? { scopes_supported: Object.freeze([...o.scopesSupported]) } : {}),
          });

    this.feed.start();
    void this.loadKeys();
    this.every(SWEEP_INTERVAL_MS, () => {
      this.revocations.prune(Date.now() / 1000, o.clockTolerance);
      this.cache.prune(Date.now());
    });
    this.every(KEYS_MAX_AGE_MS, () => {
      this.keys.load().then(
        () => this.keysRecovered(),
        (error: unknown) => this.keysFailed(error),
      );
    });
  }

  ready(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('@nest-token-auth/resource-server: the verifier is closed'));
    if (this.isReady()) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  async verify(token: string): Promise<Principal> {
    if (this.closed) throw this.errors.unavailable('unavailable');
    if (typeof token !== 'string' || !token) throw this.errors.invalid('malformed');
    let entry = this.cache.get(token);
    if (entry === undefined) {
      entry = await this.verifyNew(token);
    } else if (Date.now() >= entry.expiresAtMs) {
      this.cache.delete(token);
      throw this.errors.invalid('expired');
    }
    if (this.revocations.isRevoked(entry.sid, entry.sub, entry.iat)) throw this.errors.invalid('revoked');
    if (this.feed.isFresh()) return entry.principal;
    return this.verifyWhileStale(token, entry);
  }

  async authenticate(authorization: string | undefined, requirements: AuthRequirements = {}): Promise<Principal> {
    const token = bearerToken(authorization);
    if (token === undefined) throw this.errors.missing();
    if (token === '') throw this.errors.invalid('malformed');
    const principal = await this.verify(token);
    const unmet = unmetRequirement(principal, requirements);
    if (unmet) throw this.errors.insufficient(unmet, requirements[unmet]!);
    return principal;
  }

  authenticateKnown(authorization: string | undefined, requirements: AuthRequirements = {}): Principal | undefined {
    if (this.closed || !this.feed.isFresh()) return undefined;
    const token = bearerToken(authorization);
    const entry = token ? this.cache.get(token) : undefined;
    if (entry === undefined || Date.now() >= entry.expiresAtMs) return undefined;
    if (this.revocations.isRevoked(entry.sid, entry.sub, entry.iat)) return undefined;
    return unmetRequirement(entry.principal, requirements) ? undefined : entry.principal;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    this.settleWaiters(new Error('@nest-token-auth/resource-server: the verifier was closed before it was ready'));
    await this.feed.stop();
  }

  /** Concurrent requests with the same new token share one signature check. */
  private verifyNew(token: string): Promise<VerifiedToken> {
    let pending = this.pending.get(token);
    if (!pending) {
      pending = this.verifySignature(token).finally(() => this.pending.delete(token));
      this.pending.set(token, pending);
    }
    return pending;
  }

  private async verifySignature(token: string): Promise<VerifiedToken> {
    const header = readCanonicalHeader(token);
    if (!header) throw this.errors.invalid('malformed');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys.key, {
        algorithms: this.options.algorithms,
        issuer: this.options.issuer,
        audience: this.options.audience,
        typ: ACCESS_TOKEN_TYPE,
        clockTolerance: this.options.clockTolerance,
        requiredClaims: REQUIRED_CLAIMS,
      }));
    } catch (error) {
      if (error instanceof KeysUnavailableError) throw this.errors.unavailable('unavailable');
      if (error instanceof errors.JWTExpired) throw this.errors.invalid('expired');
      throw this.errors.invalid('invalid');
    }
    const principal = principalOf(payload);
    if (!principal) throw this.errors.invalid('invalid');
    const entry: VerifiedToken = {
      principal,
      sid: principal.sid,
      sub: principal.sub,
      iat: payload.iat!,
      kid: typeof header.kid === 'string' ? header.kid : undefined,
      expiresAtMs: (payload.exp! + this.options.clockTolerance) * 1000,
    };
    this.cache.set(token, entry);
    return entry;
  }

  /** The feed has been silent too long: a revocation may be on its way, so ask, or refuse. */
  private async verifyWhileStale(token: string, entry: VerifiedToken): Promise<Principal> {
    if (this.options.whenStale === 'reject') throw this.errors.unavailable('stale');
    let answer: Introspection;
    try {
      answer = await this.introspection.check(token);
    } catch {
      throw this.errors.unavailable('unavailable');
    }
    if (!answer.active || answer.sub !== entry.sub || (answer.sid !== undefined && answer.sid !== entry.sid)) {
      throw this.errors.invalid('inactive');
    }
    return withUsername(entry.principal, answer.username);
  }

  private async introspect(token: string): Promise<Introspection> {
    let body: Record<string, unknown>;
    try {
      body = await this.client.introspect(token);
    } catch (error) {
      if (!this.introspectionFailing) {
        this.introspectionFailing = true;
        this.options.log(`@nest-token-auth/resource-server: introspection failed (${describe(error)})`);
      }
      throw error;
    }
    this.introspectionFailing = false;
    if (body.active !== true) return { active: false };
    return {
      active: true,
      sub: typeof body.sub === 'string' ? body.sub : undefined,
      sid: typeof body.sid === 'string' ? body.sid : undefined,
      username: typeof body.username === 'string' ? body.username : undefined,
    };
  }

  private async loadKeys(): Promise<void> {
    while (!this.closed && !this.keys.loaded) {
      try {
        await this.keys.load();
        this.keysRecovered();
      } catch (error) {
        this.keysFailed(error);
        await new Promise((resolve) => setTimeout(resolve, KEYS_RETRY_MS));
      }
    }
    this.settleWaiters();
  }

  private keysFailed(error: unknown): void {
    if (this.keysFailing) return;
    this.keysFailing = true;
    this.options.log(`@nest-token-auth/resource-server: cannot load the JWKS (${describe(error)}); retrying`);
  }

  private keysRecovered(): void {
    if (!this.keysFailing) return;
    this.keysFailing = false;
    this.options.log('@nest-token-auth/resource-server: JWKS loaded');
  }

  private isReady(): boolean {
    return this.feedSynced && this.keys.loaded;
  }

  /** Resolves the ready() callers once ready, or rejects them (they may call ready() again). */
  private settleWaiters(error?: Error): void {
    if (!error && !this.isReady()) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) {
      if (error) waiter.reject(error);
      else waiter.resolve();
    }
  }

  private every(ms: number, task: () => void): void {
    const timer = setInterval(task, ms);
    timer.unref();
    this.timers.push(timer);
  }
}

/**
 * The token of an `Authorization: Bearer <token>` value (RFC 6750 §2.1; the scheme is
 * case-insensitive); undefined without Bearer credentials, '' when they are malformed.
 */
function bearerToken(authorization: string | undefined): string | undefined {
  if (typeof authorization !== 'string' || authorization.length < 7) return undefined;
  if (authorization.slice(0, 7).toLowerCase() !== 'bearer ') return undefined;
  const token = authorization.slice(7).trim();
  return /\s/.test(token) ? '' : token;
}
