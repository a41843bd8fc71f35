import { parseDuration } from './duration.js';
import type { AppConfig, DatabaseConfig, JwtAlgorithm, NodeEnv } from './app-config.js';

/** Thrown for a bad environment variable; its message is the one line printed at start-up. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

const NODE_ENVS: NodeEnv[] = ['development', 'production', 'test'];
const JWT_ALGS: JwtAlgorithm[] = ['RS256', 'ES256', 'HS256'];
const PLACEHOLDER_HINTS = ['change', 'secret', 'placeholder', 'example', 'your', 'default', 'password', 'xxxx', 'todo'];
const MIN_SECRET_LENGTH = 32;

function read(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === '' ? undefined : value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return Number(raw);
}

function duration(env: Env, name: string, fallback: string, allowZero = false): number {
  const raw = read(env, name) ?? fallback;
  const seconds = parseDuration(raw);
  if (seconds === undefined || (!allowZero && seconds === 0)) {
    throw new ConfigError(
      `${name} must be ${allowZero ? 'zero or ' : ''}a positive duration in seconds or with a unit (30s, 15m, 1h, 1d), got "${raw}"`,
    );
  }
  return seconds;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = read(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (['true', '1', 'yes'].includes(raw)) return true;
  if (['false', '0', 'no'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

function origins(env: Env): string[] {
  const raw = read(env, 'CORS_ORIGINS');
  if (!raw) return [];
  return raw.split(',').map((origin) => {
    const trimmed = origin.trim().replace(/\/+$/, '');
    if (!/^https?:\/\/[^/\s]+$/.test(trimmed)) {
      throw new ConfigError(`CORS_ORIGINS must be comma-separated origins like https://app.example.com, got "${origin.trim()}"`);
    }
    return trimmed;
  });
}

/** false, a hop count (`1` behind one load balancer), or proxy addresses/CIDRs (`10.0.0.0/8,127.0.0.1`). */
function trustProxy(env: Env): boolean | number | string {
  const raw = read(env, 'TRUST_PROXY');
  if (raw === undefined || ['false', '0', 'no'].includes(raw.toLowerCase())) return false;
  if (['true', 'yes'].includes(raw.toLowerCase())) return true;
  if (/^\d{1,2}$/.test(raw)) return Number(raw);
  if (/^[0-9a-fA-F.:/]+(\s*,\s*[0-9a-fA-F.:/]+)*$/.test(raw)) return raw;
  throw new ConfigError(`TRUST_PROXY must be false, a number of proxy hops, or proxy addresses/CIDRs, got "${raw}"`);
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function logLevel(env: Env, nodeEnv: NodeEnv): string {
  const level = read(env, 'LOG_LEVEL') ?? (nodeEnv === 'test' ? 'warn' : 'info');
  if (!LOG_LEVELS.includes(level)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
  return level;
}

function redisUrl(env: Env): string | undefined {
  const url = read(env, 'REDIS_URL');
  if (url !== undefined && !/^rediss?:\/\/\S+$/.test(url)) {
    throw new ConfigError(`REDIS_URL must look like redis://host:6379, got "${url}"`);
  }
  return url;
}

function database(env: Env): DatabaseConfig {
  const url = read(env, 'DATABASE_URL') ?? 'sqlite:./data/auth.sqlite';
  const logging = boolean(env, 'DATABASE_LOGGING', false);
  if (url.startsWith('sqlite:')) {
    const sqlitePath = url.slice('sqlite:'.length);
    if (!sqlitePath) throw new ConfigError('DATABASE_URL "sqlite:" needs a file path or :memory:');
    return { url, type: 'sqlite', sqlitePath, logging };
  }
  if (/^postgres(ql)?:\/\//.test(url)) return { url, type: 'postgres', logging };
  throw new ConfigError(`DATABASE_URL must start with sqlite: or postgres://, got "${url}"`);
}

function jwtAlg(env: Env): JwtAlgorithm {
  const alg = (read(env, 'JWT_ALG') ?? 'RS256').toUpperCase() as JwtAlgorithm;
  if (!JWT_ALGS.includes(alg)) throw new ConfigError(`JWT_ALG must be one of ${JWT_ALGS.join(', ')}, got "${alg}"`);
  return alg;
}

function isWeakSecret(secret: string): boolean {
  const lower = secret.toLowerCase();
  return secret.length < MIN_SECRET_LENGTH || new Set(secret).size < 10 || PLACEHOLDER_HINTS.some((hint) => lower.includes(hint));
}

function keysEncryptionKey(env: Env, nodeEnv: NodeEnv): string | undefined {
  const key = read(env, 'KEYS_ENCRYPTION_KEY');
  if (key === undefined) return undefined;
  if (key.length < MIN_SECRET_LENGTH || (nodeEnv === 'production' && isWeakSecret(key))) {
    throw new ConfigError(
      `KEYS_ENCRYPTION_KEY is weak or a placeholder; use at least ${MIN_SECRET_LENGTH} random characters (e.g. \`openssl rand -base64 32\`)`,
    );
  }
  return key;
}

function jwtSecret(env: Env, nodeEnv: NodeEnv, alg: JwtAlgorithm): string | undefined {
  const secret = read(env, 'JWT_SECRET');
  if (secret !== undefined && alg !== 'HS256') {
    throw new ConfigError(
      `JWT_SECRET is only used with JWT_ALG=HS256 (a shared secret: resource servers cannot use JWKS); set JWT_ALG=HS256 to opt in, or unset JWT_SECRET to sign with ${alg}`,
    );
  }
  if (secret === undefined || nodeEnv !== 'production') return secret;
  if (isWeakSecret(secret)) {
    throw new ConfigError(
      `JWT_SECRET is weak or a placeholder; in production use at least ${MIN_SECRET_LENGTH} random characters (e.g. \`openssl rand -base64 48\`) or unset it to use the generated key`,
    );
  }
  return secret;
}

/** Reads and validates the environment once, at start-up. Throws ConfigError on the first bad value. */
export function loadConfig(env: Env = process.env): AppConfig {
  const nodeEnv = (read(env, 'NODE_ENV') ?? 'development') as NodeEnv;
  if (!NODE_ENVS.includes(nodeEnv)) {
    throw new ConfigError(`NODE_ENV must be one of ${NODE_ENVS.join(', ')}, got "${nodeEnv}"`);
  }
  const port = integer(env, 'PORT', 3000, 0, 65535);
  const issuer = read(env, 'JWT_ISSUER') ?? `http://localhost:${port}`;
  if (!/^https?:\/\/[^\s]+$/.test(issuer)) {
    throw new ConfigError(`JWT_ISSUER must be an http(s) URL, got "${issuer}"`);
  }
  const accessTokenTtl = duration(env, 'ACCESS_TOKEN_TTL', '1h');
  const refreshTokenTtl = duration(env, 'REFRESH_TOKEN_TTL', '1d');
  const sessionMaxAge = duration(env, 'SESSION_MAX_AGE', '30d');
  const alg = jwtAlg(env);
  const rotation = read(env, 'JWT_KEY_ROTATION') ?? 'off';

  return {
    env: nodeEnv,
    http: {
      port,
      host: read(env, 'HOST') ?? '127.0.0.1',
      cookieSecure: boolean(env, 'COOKIE_SECURE', nodeEnv === 'production'),
      bodyLimit: 100 * 1024,
      corsOrigins: origins(env),
      trustProxy: trustProxy(env),
      logLevel: logLevel(env, nodeEnv),
      logRequests: boolean(env, 'LOG_REQUESTS', false),
    },
    throttle: {
      maxFailuresPerIp: integer(env, 'LOGIN_MAX_FAILURES_PER_IP', 20, 1, 1_000_000),
      maxFailuresPerUser: integer(env, 'LOGIN_MAX_FAILURES_PER_USER', 5, 1, 1_000_000),
      window: duration(env, 'LOGIN_THROTTLE_WINDOW', '15m'),
      registerMaxPerIp: integer(env, 'REGISTER_MAX_PER_IP', 30, 1, 1_000_000),
      registerWindow: duration(env, 'REGISTER_WINDOW', '1h'),
    },
    audit: { retention: duration(env, 'AUDIT_RETENTION', '90d') },
    auth: {
      issuer: issuer.replace(/\/+$/, ''),
      audience: read(env, 'JWT_AUDIENCE') ?? issuer.replace(/\/+$/, ''),
      jwtAlg: alg,
      jwtSecret: jwtSecret(env, nodeEnv, alg),
      keyRotationInterval: ['off', '0', 'false'].includes(rotation.toLowerCase()) ? 0 : duration(env, 'JWT_KEY_ROTATION', rotation),
      keysEncryptionKey: keysEncryptionKey(env, nodeEnv),
      passwordGrantEnabled: boolean(env, 'PASSWORD_GRANT_ENABLED', true),
      accessTokenTtl,
      refreshTokenTtl,
      sessionMaxAge,
      refreshReuseGrace: duration(env, 'REFRESH_REUSE_GRACE', '10s', true),
      argon2: {
        memoryCost: integer(env, 'ARGON2_MEMORY_KIB', 19456, 1024, 4 * 1024 * 1024),
        timeCost: integer(env, 'ARGON2_ITERATIONS', 2, 1, 100),
        parallelism: integer(env, 'ARGON2_PARALLELISM', 1, 1, 16),
      },
      passwordHashQueue: read(env, 'PASSWORD_HASH_QUEUE') === undefined ? undefined : integer(env, 'PASSWORD_HASH_QUEUE', 0, 0, 100_000),
      maxSessionsPerUser: integer(env, 'MAX_SESSIONS_PER_USER', 50, 1, 100_000),
    },
    database: database(env),
    redis: { url: redisUrl(env), prefix: read(env, 'REDIS_PREFIX') ?? 'nta:' },
  };
}
