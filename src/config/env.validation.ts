import type { AppConfig } from './app-config.js';
import { ConfigError } from './config-error.js';
import * as vars from './env.schema.js';
import { ENV_VARS, InvalidValue, type EnvContext, type EnvVar } from './env.schema.js';

export { ConfigError } from './config-error.js';

type Env = Record<string, string | undefined>;

/** Thrown by `get` when a variable another one depends on is itself bad (already reported). */
class DependencyFailed extends Error {}

const FAILED = Symbol('failed');

/**
 * Reads and validates the environment once, at start-up, against the schema (env.schema.ts).
 * Throws one ConfigError listing every bad variable, one line each.
 */
export function loadConfig(env: Env = process.env): AppConfig {
  const values = new Map<EnvVar<unknown>, unknown>();
  const problems = new Map<EnvVar<unknown>, string>();

  const ctx: EnvContext = {
    get<T>(variable: EnvVar<T>): T {
      if (!values.has(variable)) values.set(variable, evaluate(variable));
      const value = values.get(variable);
      if (value === FAILED) throw new DependencyFailed();
      return value as T;
    },
  };

  function evaluate<T>(variable: EnvVar<T>): T | typeof FAILED | undefined {
    // Empty and blank count as unset, so `PORT=` in a .env file means the default.
    const raw = env[variable.name]?.trim() || undefined;
    try {
      if (raw !== undefined) return variable.parse(raw, ctx);
      if (typeof variable.default === 'string') return variable.parse(variable.default, ctx);
      return variable.default?.value(ctx);
    } catch (error) {
      if (error instanceof InvalidValue) problems.set(variable, `${variable.name} ${error.message}`);
      // A dependency's problem is reported under its own name; this one is not wrong in itself.
      else if (!(error instanceof DependencyFailed)) throw error;
      return FAILED;
    }
  }

  for (const variable of ENV_VARS) {
    try {
      ctx.get(variable);
    } catch (error) {
      if (!(error instanceof DependencyFailed)) throw error;
    }
  }
  if (problems.size) throw new ConfigError(ENV_VARS.flatMap((variable) => problems.get(variable) ?? []));
  return toAppConfig((variable) => ctx.get(variable));
}

/** The validated values, shaped into the typed namespaces the modules read. */
function toAppConfig(get: <T>(variable: EnvVar<T>) => T): AppConfig {
  return {
    env: get(vars.NODE_ENV),
    http: {
      port: get(vars.PORT),
      host: get(vars.HOST),
      cookieSecure: get(vars.COOKIE_SECURE),
      bodyLimit: 100 * 1024,
      corsOrigins: get(vars.CORS_ORIGINS) ?? [],
      trustProxy: get(vars.TRUST_PROXY),
      logLevel: get(vars.LOG_LEVEL),
      logFormat: get(vars.LOG_FORMAT),
      logRequests: get(vars.LOG_REQUESTS),
      docsEnabled: get(vars.DOCS_ENABLED),
      demoEnabled: get(vars.DEMO_ENABLED),
      requestTimeout: get(vars.REQUEST_TIMEOUT),
      throttledReplyDelay: get(vars.THROTTLED_REPLY_DELAY),
    },
    throttle: {
      maxFailuresPerIp: get(vars.LOGIN_MAX_FAILURES_PER_IP),
      maxFailuresPerUser: get(vars.LOGIN_MAX_FAILURES_PER_USER),
      window: get(vars.LOGIN_THROTTLE_WINDOW),
      maxChecksPerIp: get(vars.LOGIN_MAX_PER_IP),
      maxChecksPerUser: get(vars.LOGIN_MAX_PER_USER),
      registerMaxPerIp: get(vars.REGISTER_MAX_PER_IP),
      registerWindow: get(vars.REGISTER_WINDOW),
    },
    audit: { retention: get(vars.AUDIT_RETENTION) },
    auth: {
      issuer: get(vars.JWT_ISSUER),
      audience: get(vars.JWT_AUDIENCE),
      jwtAlg: get(vars.JWT_ALG),
      jwtSecret: get(vars.JWT_SECRET),
      keyRotationInterval: get(vars.JWT_KEY_ROTATION),
      keysEncryptionKey: get(vars.KEYS_ENCRYPTION_KEY),
      passwordGrantEnabled: get(vars.PASSWORD_GRANT_ENABLED),
      allowedScopes: get(vars.ALLOWED_SCOPES) ?? [],
      accessTokenTtl: get(vars.ACCESS_TOKEN_TTL),
      refreshTokenTtl: get(vars.REFRESH_TOKEN_TTL),
      sessionMaxAge: get(vars.SESSION_MAX_AGE),
      refreshReuseGrace: get(vars.REFRESH_REUSE_GRACE),
      argon2: {
        memoryCost: get(vars.ARGON2_MEMORY_KIB),
        timeCost: get(vars.ARGON2_ITERATIONS),
        parallelism: get(vars.ARGON2_PARALLELISM),
      },
      passwordHashQueue: get(vars.PASSWORD_HASH_QUEUE),
      maxSessionsPerUser: get(vars.MAX_SESSIONS_PER_USER),
    },
    database: {
      ...get(vars.DATABASE_URL),
      logging: get(vars.DATABASE_LOGGING),
      busyTimeout: get(vars.DATABASE_BUSY_TIMEOUT),
      sqliteCacheMb: get(vars.SQLITE_CACHE_MB),
    },
    redis: { url: get(vars.REDIS_URL), prefix: get(vars.REDIS_PREFIX) },
  };
}
