/** Options of createTokenVerifier. Durations are in seconds. */
export interface TokenVerifierOptions {
  /** The auth server's issuer URL: tokens' `iss` must equal it; endpoints live under it. */
  issuer: string;
  /** Accepted `aud` value(s) (the auth server's AUDIENCE). */
  audience: string | string[];
  /** This resource server's client (`npm run clients -- create <name>`). */
  clientId: string;
  clientSecret: string;
  /** Signature algorithms to accept; pin what the auth server signs with (JWT_ALG). */
  algorithms?: string[];
  /** Leeway for `exp`, in seconds. */
  clockTolerance?: number;
  /** Seconds without a byte from the revocation feed after which local verification is not trusted. */
  maxStaleness?: number;
  /** What to do while the feed is stale: ask the auth server per token, or answer 503. */
  whenStale?: 'introspect' | 'reject';
  /**
   * Where to reach the auth server when that differs from `issuer` (a private network address, a
   * proxy). Tokens must still carry `iss` = `issuer`.
   */
  authServerUrl?: string;
  /** `sse` (default) keeps one streaming connection; `poll` asks every second (for proxies that break streams). */
  transport?: 'sse' | 'poll';
  /** Upper bound on remembered verified tokens (each is dropped at its `exp` anyway). */
  cacheSize?: number;
  /** Timeout of each request to the auth server (JWKS, poll, introspection, stream headers), in seconds. */
  requestTimeout?: number;
  /** RFC 9728: this API's resource identifier (an https URL); enables `resourceMetadata`. */
  resource?: string;
  /** RFC 9728 metadata URL for `WWW-Authenticate: … resource_metadata="…"`; derived from `resource` when omitted. */
  resourceMetadataUrl?: string;
  /** Published as `scopes_supported` in the RFC 9728 metadata. */
  scopesSupported?: string[];
  /** `realm` of the Bearer challenge. */
  realm?: string;
  /**
   * Where the kit reports trouble (feed lost and restored, JWKS failures, a rejected client secret),
   * one line per change of state, never a token. Defaults to console.warn; `false` silences it.
   */
  log?: ((message: string) => void) | false;
}

export interface ResolvedOptions {
  issuer: string;
  audience: string[];
  clientId: string;
  clientSecret: string;
  algorithms: string[];
  clockTolerance: number;
  maxStalenessMs: number;
  whenStale: 'introspect' | 'reject';
  authServerUrl: string;
  transport: 'sse' | 'poll';
  cacheSize: number;
  requestTimeoutMs: number;
  resource?: string;
  resourceMetadataUrl?: string;
  scopesSupported?: string[];
  realm?: string;
  log: (message: string) => void;
}

/**
 * Asymmetric JWS algorithms only: the kit gets its keys from a public JWKS, and an HMAC "key"
 * taken from there would let anyone sign.
 */
export const SUPPORTED_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

/** Checks the options once, so a typo fails at start-up with one clear line instead of 401s later. */
export function resolveOptions(options: TokenVerifierOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) fail('options must be an object');
  const issuer = httpUrl('issuer', options.issuer);
  const audience = typeof options.audience === 'string' ? [options.audience] : options.audience;
  if (!Array.isArray(audience) || !audience.length || !audience.every(isNonEmptyString)) {
    fail('audience must be a non-empty string or array of strings');
  }
  if (!isNonEmptyString(options.clientId)) fail('clientId must be a non-empty string');
  if (!isNonEmptyString(options.clientSecret)) fail('clientSecret must be a non-empty string');
  const algorithms = options.algorithms ?? ['RS256'];
  if (
    !Array.isArray(algorithms) ||
    !algorithms.length ||
    !algorithms.every((alg) => (SUPPORTED_ALGORITHMS as readonly string[]).includes(alg))
  ) {
    fail(`algorithms must be a non-empty subset of ${SUPPORTED_ALGORITHMS.join(', ')}`);
  }
  const whenStale = options.whenStale ?? 'introspect';
  if (whenStale !== 'introspect' && whenStale !== 'reject') fail("whenStale must be 'introspect' or 'reject'");
  const transport = options.transport ?? 'sse';
  if (transport !== 'sse' && transport !== 'poll') fail("transport must be 'sse' or 'poll'");
  if (options.resource !== undefined) httpUrl('resource', options.resource);
  // Exactly as given: RFC 9728 §3.3 has clients compare it with the URL they called.
  const resource = options.resource;
  if (options.resourceMetadataUrl !== undefined) httpUrl('resourceMetadataUrl', options.resourceMetadataUrl);
  const resourceMetadataUrl =
    options.resourceMetadataUrl ?? (resource === undefined ? undefined : protectedResourceMetadataUrl(resource));
  if (options.scopesSupported !== undefined && !isStringArray(options.scopesSupported)) {
    fail('scopesSupported must be an array of strings');
  }
  if (options.realm !== undefined && typeof options.realm !== 'string') fail('realm must be a string');
  return {
    issuer: options.issuer,
    audience: [...audience],
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    algorithms: [...new Set(algorithms)],
    clockTolerance: seconds('clockTolerance', options.clockTolerance, 5, true),
    maxStalenessMs: seconds('maxStaleness', options.maxStaleness, 5, false) * 1000,
    whenStale,
    authServerUrl: options.authServerUrl === undefined ? issuer : httpUrl('authServerUrl', options.authServerUrl),
    transport,
    cacheSize: positiveInteger('cacheSize', options.cacheSize, 10_000),
    requestTimeoutMs: seconds('requestTimeout', options.requestTimeout, 5, false) * 1000,
    resource,
    resourceMetadataUrl,
    scopesSupported: options.scopesSupported && [...options.scopesSupported],
    realm: options.realm,
    log: options.log === false ? () => {} : (options.log ?? ((message) => console.warn(message))),
  };
}

/**
 * RFC 9728 §3.1: the well-known segment goes between the host and the resource's path, so
 * `https://api.example.com/v1` publishes at `https://api.example.com/.well-known/oauth-protected-resource/v1`.
 */
export function protectedResourceMetadataUrl(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === '/' ? '' : url.pathname;
  return `${url.origin}${PROTECTED_RESOURCE_WELL_KNOWN}${path}${url.search}`;
}

/** The path to serve the metadata at, on this API's own server (e.g. for app.get(path, …)). */
export function protectedResourceMetadataPath(resource: string): string {
  return new URL(protectedResourceMetadataUrl(resource)).pathname;
}

export const PROTECTED_RESOURCE_WELL_KNOWN = '/.well-known/oauth-protected-resource';

/** `url` without trailing slashes, so `${base}/auth/…` never doubles one. */
function httpUrl(name: string, value: unknown): string {
  if (typeof value !== 'string') fail(`${name} must be a URL string`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    fail(`${name} must be an absolute http(s) URL, got "${value}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') fail(`${name} must be an http(s) URL, got "${value}"`);
  if (url.hash) fail(`${name} must not have a fragment`);
  return value.replace(/\/+$/, '');
}

function seconds(name: string, value: unknown, fallback: number, zeroAllowed: boolean): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!zeroAllowed && value === 0)) {
    fail(`${name} must be a ${zeroAllowed ? 'non-negative' : 'positive'} number of seconds`);
  }
  return value;
}

function positiveInteger(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) fail(`${name} must be a positive integer`);
  return value;
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

function fail(message: string): never {
  throw new TypeError(`@nest-token-auth/resource-server: ${message}`);
}
