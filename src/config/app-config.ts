export type NodeEnv = 'development' | 'production' | 'test';
export type DatabaseType = 'sqlite' | 'postgres';

export interface HttpConfig {
  port: number;
  host: string;
  /** Adds `Secure` to the refresh cookie. */
  cookieSecure: boolean;
  /** Largest accepted request body, in bytes. */
  bodyLimit: number;
  /** Browser origins allowed to call us with credentials (CORS) and to use the refresh cookie (CSRF). */
  corsOrigins: string[];
  /**
   * Which X-Forwarded-For hops to trust (for client IPs in throttling, sessions, audit): false,
   * a number of proxy hops, or proxy addresses/CIDRs. `true` trusts every hop, i.e. the client.
   */
  trustProxy: boolean | number | string;
  logLevel: string;
  /** `pretty` (human, for a terminal) or `json` (one object per line, for log collectors). */
  logFormat: 'json' | 'pretty';
  logRequests: boolean;
  /** Swagger UI at /docs and the OpenAPI document at /docs-json. */
  docsEnabled: boolean;
  /** The demo page at / and the client library at /client/. */
  demoEnabled: boolean;
  /** Seconds a client has to send a whole request (headers and body) before it gets 408 and is closed. */
  requestTimeout: number;
  /** Seconds a throttled refusal (429, 503 + Retry-After) is held before it is sent; 0: at once. */
  throttledReplyDelay: number;
}

export interface ThrottleConfig {
  /** Failed logins allowed per client IP within the window. */
  maxFailuresPerIp: number;
  /** Failed logins allowed per username within the window. */
  maxFailuresPerUser: number;
  /** Window, in seconds; once over the limit, the key stays blocked this long. */
  window: number;
  /** Password checks (successful or not) allowed per client IP within the window. */
  maxChecksPerIp: number;
  /** Password checks (successful or not) allowed per username within the window. */
  maxChecksPerUser: number;
  /** Registrations (attempts) allowed per client IP (IPv6: per /64) within `registerWindow`. */
  registerMaxPerIp: number;
  /** Registration counting window, in seconds. */
  registerWindow: number;
}

export type JwtAlgorithm = 'RS256' | 'ES256' | 'HS256';

export interface AuthConfig {
  issuer: string;
  /** `aud` of access tokens (RFC 9068): the APIs they are meant for. */
  audience: string;
  /** Access-token signature algorithm. HS256 is an explicit opt-in (no JWKS then). */
  jwtAlg: JwtAlgorithm;
  /** HS256 secret from env (only with JWT_ALG=HS256); overrides the generated key. */
  jwtSecret?: string;
  /** Seconds between automatic signing-key rotations; 0 = only `npm run keys:rotate`. */
  keyRotationInterval: number;
  /** Encrypts private key material at rest when set. */
  keysEncryptionKey?: string;
  /** Whether POST /auth/token accepts grant_type=password. */
  passwordGrantEnabled: boolean;
  /** Scopes clients may request (ALLOWED_SCOPES), distinct, in the order configured; [] when none. */
  allowedScopes: string[];
  accessTokenTtl: number;
  refreshTokenTtl: number;
  sessionMaxAge: number;
  refreshReuseGrace: number;
  /** argon2id cost; OWASP's 7 MiB × 5 profile by default (a warning in production below OWASP), lowered by tests. */
  argon2: { memoryCost: number; timeCost: number; parallelism: number };
  /** Password hashes allowed to wait for a hashing thread (beyond that, 503); undefined: 32 per hashing thread. */
  passwordHashQueue?: number;
  /** Live sessions per user; a login beyond it revokes the least recently used one. */
  maxSessionsPerUser: number;
}

export interface DatabaseConfig {
  url: string;
  type: DatabaseType;
  /** File path or `:memory:` for SQLite. */
  sqlitePath?: string;
  logging: boolean;
  /**
   * Seconds a SQLite write may wait for the write lock held by another process before the
   * request gets 503 (the wait never blocks the event loop; see SqliteAdapter). Unused on PostgreSQL.
   */
  busyTimeout: number;
  /** SQLite's page cache, in MB (per connection). Unused on PostgreSQL. */
  sqliteCacheMb: number;
}

export interface RedisConfig {
  /** Shared state for several instances: throttle counters, revocation broadcast. */
  url?: string;
  /** Prefix of our keys and channels, so deployments can share one Redis. */
  prefix: string;
}

export interface AuditConfig {
  /** Seconds audit events are kept; older ones are purged hourly. */
  retention: number;
}

/** The whole validated configuration, one namespace per concern. */
export interface AppConfig {
  env: NodeEnv;
  http: HttpConfig;
  auth: AuthConfig;
  throttle: ThrottleConfig;
  audit: AuditConfig;
  database: DatabaseConfig;
  redis: RedisConfig;
}
