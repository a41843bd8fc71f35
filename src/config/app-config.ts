export type NodeEnv = 'development' | 'production' | 'test';
export type DatabaseType = 'sqlite' | 'postgres';

export interface HttpConfig {
  port: number;
  host: string;
  /** Adds `Secure` to the refresh cookie. */
  cookieSecure: boolean;
  /** Largest accepted request body, in bytes. */
  bodyLimit: number;
}

export interface AuthConfig {
  issuer: string;
  /** HS256 secret from env; overrides the key generated and stored in the database. */
  jwtSecret?: string;
  accessTokenTtl: number;
  refreshTokenTtl: number;
  sessionMaxAge: number;
  refreshReuseGrace: number;
  /** argon2id cost; OWASP's minimum by default, lowered only by tests. */
  argon2: { memoryCost: number; timeCost: number; parallelism: number };
}

export interface DatabaseConfig {
  url: string;
  type: DatabaseType;
  /** File path or `:memory:` for SQLite. */
  sqlitePath?: string;
  logging: boolean;
}

/** The whole validated configuration, one namespace per concern. */
export interface AppConfig {
  env: NodeEnv;
  http: HttpConfig;
  auth: AuthConfig;
  database: DatabaseConfig;
}
