import type { DatabaseConfig, JwtAlgorithm, NodeEnv } from './app-config.js';
import { parseDuration } from './duration.js';
import { redactedUrl } from './redacted-url.js';
import { SCOPE_TOKEN } from '../common/scope.js';

/**
 * Every environment variable the service reads, one entry each: name, default, parser. The loader
 * (env.validation.ts) reads exactly this list, and a test checks it against `.env.example` and
 * README's configuration table, so a variable cannot be added to one and forgotten in the others.
 */

/** A bad value. The message continues the variable's name: `PORT` + ` must be an integer…`. */
export class InvalidValue extends Error {}

/** Lets a parser or a derived default read other variables (evaluated on demand). */
export interface EnvContext {
  get<T>(variable: EnvVar<T>): T;
}

/** A default computed from other variables, e.g. the issuer from the port. */
export interface DerivedDefault<T> {
  /** The default as README's configuration table words it (its Default cell, verbatim). */
  readonly describe: string;
  readonly value: (ctx: EnvContext) => T;
}

export interface EnvVar<T> {
  readonly name: string;
  /**
   * When unset or blank: a text parsed like a value the user wrote (README and `.env.example` show
   * it as is), a default derived from other variables, or none (the value is then `undefined`).
   */
  readonly default?: string | DerivedDefault<T>;
  readonly parse: (raw: string, ctx: EnvContext) => T;
}

const registry: EnvVar<unknown>[] = [];

/** Declares a variable. The order of declaration is the order in which problems are reported. */
function variable<T>(name: string, spec: Omit<EnvVar<T>, 'name'>): EnvVar<T> {
  const declared: EnvVar<T> = { name, ...spec };
  registry.push(declared);
  return declared;
}

/** The whole schema, in declaration order. */
export const ENV_VARS: readonly EnvVar<unknown>[] = registry;

// ---- Parsers. Each returns a function of the raw (trimmed, non-empty) text. ----

const text = (raw: string): string => raw;

function integer(min: number, max: number): (raw: string) => number {
  return (raw) => {
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      throw new InvalidValue(`must be an integer from ${min} to ${max}, got "${raw}"`);
    }
    return Number(raw);
  };
}

function duration({ allowZero = false } = {}): (raw: string) => number {
  return (raw) => {
    const seconds = parseDuration(raw);
    if (seconds === undefined || (!allowZero && seconds === 0)) {
      throw new InvalidValue(
        `must be ${allowZero ? 'zero or ' : ''}a positive duration in seconds or with a unit (30s, 15m, 1h, 1d), got "${raw}"`,
      );
    }
    return seconds;
  };
}

function boolean(raw: string): boolean {
  const lower = raw.toLowerCase();
  if (['true', '1', 'yes'].includes(lower)) return true;
  if (['false', '0', 'no'].includes(lower)) return false;
  throw new InvalidValue(`must be true or false, got "${lower}"`);
}

function oneOf<T extends string>(values: readonly T[], { ignoreCase = false } = {}): (raw: string) => T {
  return (raw) => {
    const value = (ignoreCase ? raw.toUpperCase() : raw) as T;
    if (!values.includes(value)) throw new InvalidValue(`must be one of ${values.join(', ')}, got "${value}"`);
    return value;
  };
}

// ---- Secrets ----

const PLACEHOLDER_HINTS = ['change', 'secret', 'placeholder', 'example', 'your', 'default', 'password', 'xxxx', 'todo'];
export const MIN_SECRET_LENGTH = 32;

function isWeakSecret(secret: string): boolean {
  const lower = secret.toLowerCase();
  return (
    secret.length < MIN_SECRET_LENGTH ||
    new Set(secret).size < 10 ||
    PLACEHOLDER_HINTS.some((hint) => lower.includes(hint))
  );
}

// ---- The variables ----

export const NODE_ENV = variable<NodeEnv>('NODE_ENV', {
  default: 'development',
  parse: oneOf<NodeEnv>(['development', 'production', 'test']),
});

export const PORT = variable('PORT', { default: '3000', parse: integer(0, 65535) });

export const HOST = variable('HOST', { default: '127.0.0.1', parse: text });

export const DATABASE_URL = variable<Omit<DatabaseConfig, 'logging' | 'busyTimeout' | 'sqliteCacheMb'>>(
  'DATABASE_URL',
  {
    default: 'sqlite:./data/auth.sqlite',
    parse: (url) => {
      if (url.startsWith('sqlite:')) {
        const sqlitePath = url.slice('sqlite:'.length);
        if (!sqlitePath) throw new InvalidValue('"sqlite:" needs a file path or :memory:');
        return { url, type: 'sqlite', sqlitePath };
      }
      if (/^postgres(ql)?:\/\//.test(url)) return { url, type: 'postgres' };
      // Quoted without its userinfo, query and fragment: a mistyped URL still carries its password.
      throw new InvalidValue(`must start with sqlite: or postgres://, got "${redactedUrl(url)}"`);
    },
  },
);

export const DATABASE_LOGGING = variable('DATABASE_LOGGING', { default: 'false', parse: boolean });

/** Seconds a SQLite write may wait, off the event loop, for another process's write lock before 503. */
export const DATABASE_BUSY_TIMEOUT = variable('DATABASE_BUSY_TIMEOUT', { default: '5s', parse: duration() });
/**
 * SQLite's page cache (better-sqlite3 builds SQLite with 16 MB; SQLite's own default is 2 MB). The
 * operating system caches the file too: a page missing here costs a read from memory, not disk.
 */
export const SQLITE_CACHE_MB = variable('SQLITE_CACHE_MB', { default: '4', parse: integer(1, 4096) });

export const JWT_ISSUER = variable('JWT_ISSUER', {
  default: { describe: '`http://localhost:$PORT`', value: (ctx) => `http://localhost:${ctx.get(PORT)}` },
  parse: (issuer) => {
    if (!/^https?:\/\/[^\s]+$/.test(issuer)) throw new InvalidValue(`must be an http(s) URL, got "${issuer}"`);
    return issuer.replace(/\/+$/, '');
  },
});

export const JWT_AUDIENCE = variable('JWT_AUDIENCE', {
  default: { describe: 'the issuer', value: (ctx) => ctx.get(JWT_ISSUER) },
  parse: text,
});

export const JWT_ALG = variable<JwtAlgorithm>('JWT_ALG', {
  default: 'RS256',
  parse: oneOf<JwtAlgorithm>(['RS256', 'ES256', 'HS256'], { ignoreCase: true }),
});

export const JWT_SECRET = variable<string | undefined>('JWT_SECRET', {
  parse: (secret, ctx) => {
    const alg = ctx.get(JWT_ALG);
    if (alg !== 'HS256') {
      throw new InvalidValue(
        `is only used with JWT_ALG=HS256 (a shared secret: resource servers cannot use JWKS); set JWT_ALG=HS256 to opt in, or unset JWT_SECRET to sign with ${alg}`,
      );
    }
    if (ctx.get(NODE_ENV) === 'production' && isWeakSecret(secret)) {
      throw new InvalidValue(
        `is weak or a placeholder; in production use at least ${MIN_SECRET_LENGTH} random characters (e.g. \`openssl rand -base64 48\`) or unset it to use the generated key`,
      );
    }
    return secret;
  },
});

export const JWT_KEY_ROTATION = variable('JWT_KEY_ROTATION', {
  default: 'off',
  parse: (raw) => {
    if (['off', '0', 'false'].includes(raw.toLowerCase())) return 0;
    const seconds = parseDuration(raw);
    if (!seconds) throw new InvalidValue(`must be off or a positive duration (30s, 15m, 1h, 1d), got "${raw}"`);
    return seconds;
  },
});

export const KEYS_ENCRYPTION_KEY = variable<string | undefined>('KEYS_ENCRYPTION_KEY', {
  parse: (key, ctx) => {
    if (key.length < MIN_SECRET_LENGTH || (ctx.get(NODE_ENV) === 'production' && isWeakSecret(key))) {
      throw new InvalidValue(
        `is weak or a placeholder; use at least ${MIN_SECRET_LENGTH} random characters (e.g. \`openssl rand -base64 32\`)`,
      );
    }
    return key;
  },
});

export const ACCESS_TOKEN_TTL = variable('ACCESS_TOKEN_TTL', { default: '1h', parse: duration() });
export const REFRESH_TOKEN_TTL = variable('REFRESH_TOKEN_TTL', { default: '1d', parse: duration() });
export const SESSION_MAX_AGE = variable('SESSION_MAX_AGE', { default: '30d', parse: duration() });
export const REFRESH_REUSE_GRACE = variable('REFRESH_REUSE_GRACE', {
  default: '10s',
  parse: duration({ allowZero: true }),
});

export const COOKIE_SECURE = variable('COOKIE_SECURE', {
  default: { describe: '`true` in production, else `false`', value: (ctx) => ctx.get(NODE_ENV) === 'production' },
  parse: boolean,
});

export const CORS_ORIGINS = variable<string[] | undefined>('CORS_ORIGINS', {
  parse: (raw) =>
    raw.split(',').map((origin) => {
      const trimmed = origin.trim().replace(/\/+$/, '');
      if (!/^https?:\/\/[^/\s]+$/.test(trimmed)) {
        throw new InvalidValue(`must be comma-separated origins like https://app.example.com, got "${origin.trim()}"`);
      }
      return trimmed;
    }),
});

/** false, a hop count (`1` behind one load balancer), or proxy addresses/CIDRs (`10.0.0.0/8,127.0.0.1`). */
export const TRUST_PROXY = variable<boolean | number | string>('TRUST_PROXY', {
  default: 'false',
  parse: (raw) => {
    if (['false', '0', 'no'].includes(raw.toLowerCase())) return false;
    if (['true', 'yes'].includes(raw.toLowerCase())) return true;
    if (/^\d{1,2}$/.test(raw)) return Number(raw);
    if (/^[0-9a-fA-F.:/]+(\s*,\s*[0-9a-fA-F.:/]+)*$/.test(raw)) return raw;
    throw new InvalidValue(`must be false, a number of proxy hops, or proxy addresses/CIDRs, got "${raw}"`);
  },
});

export const PASSWORD_GRANT_ENABLED = variable('PASSWORD_GRANT_ENABLED', { default: 'true', parse: boolean });

/** Space-separated RFC 6749 §3.3 scope tokens clients may request; unset: no scopes at all. */
export const ALLOWED_SCOPES = variable<string[] | undefined>('ALLOWED_SCOPES', {
  parse: (raw) => {
    const tokens = raw.split(/ +/);
    const bad = tokens.find((token) => !SCOPE_TOKEN.test(token));
    if (bad !== undefined) {
      throw new InvalidValue(`must be space-separated scope tokens (printable ASCII except " and \\), got "${bad}"`);
    }
    const repeated = tokens.find((token, index) => tokens.indexOf(token) !== index);
    if (repeated !== undefined) throw new InvalidValue(`lists "${repeated}" twice`);
    return tokens;
  },
});

export const LOGIN_MAX_FAILURES_PER_IP = variable('LOGIN_MAX_FAILURES_PER_IP', {
  default: '20',
  parse: integer(1, 1_000_000),
});
export const LOGIN_MAX_FAILURES_PER_USER = variable('LOGIN_MAX_FAILURES_PER_USER', {
  default: '5',
  parse: integer(1, 1_000_000),
});
export const LOGIN_THROTTLE_WINDOW = variable('LOGIN_THROTTLE_WINDOW', { default: '15m', parse: duration() });
/** Password checks (right or wrong) per client IP and per username within LOGIN_THROTTLE_WINDOW. */
export const LOGIN_MAX_PER_IP = variable('LOGIN_MAX_PER_IP', { default: '300', parse: integer(1, 1_000_000) });
export const LOGIN_MAX_PER_USER = variable('LOGIN_MAX_PER_USER', { default: '30', parse: integer(1, 1_000_000) });

export const REGISTER_MAX_PER_IP = variable('REGISTER_MAX_PER_IP', { default: '30', parse: integer(1, 1_000_000) });
export const REGISTER_WINDOW = variable('REGISTER_WINDOW', { default: '1h', parse: duration() });
export const MAX_SESSIONS_PER_USER = variable('MAX_SESSIONS_PER_USER', { default: '50', parse: integer(1, 100_000) });
/** Unset: 32 per hashing thread, which the hash queue works out from the thread pool it finds. */
export const PASSWORD_HASH_QUEUE = variable<number | undefined>('PASSWORD_HASH_QUEUE', {
  default: { describe: '32 per hashing thread', value: () => undefined },
  parse: integer(0, 100_000),
});
export const AUDIT_RETENTION = variable('AUDIT_RETENTION', { default: '90d', parse: duration() });

// OWASP's argon2id profile with the least memory: 7 MiB × 5 passes, which the Password Storage
// Cheat Sheet lists as an equal defense to 19 MiB × 2 (same CPU per hash). Memory is what a
// server that hashes on every thread at once runs short of: each concurrent hash holds m, and
// glibc keeps each thread's buffer for the next one (peak RSS −19 MB on 2 cores, README Performance).
export const ARGON2_MEMORY_KIB = variable('ARGON2_MEMORY_KIB', {
  default: '7168',
  parse: integer(1024, 4 * 1024 * 1024),
});
export const ARGON2_ITERATIONS = variable('ARGON2_ITERATIONS', { default: '5', parse: integer(1, 100) });
export const ARGON2_PARALLELISM = variable('ARGON2_PARALLELISM', { default: '1', parse: integer(1, 16) });

export const LOG_LEVEL = variable('LOG_LEVEL', {
  default: {
    describe: '`info` (`warn` when `NODE_ENV=test`)',
    value: (ctx) => (ctx.get(NODE_ENV) === 'test' ? 'warn' : 'info'),
  },
  parse: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
});

export const LOG_FORMAT = variable<'json' | 'pretty'>('LOG_FORMAT', {
  default: {
    describe: '`pretty` in development, else `json`',
    value: (ctx) => (ctx.get(NODE_ENV) === 'development' ? 'pretty' : 'json'),
  },
  parse: oneOf<'json' | 'pretty'>(['json', 'pretty']),
});

export const LOG_REQUESTS = variable('LOG_REQUESTS', { default: 'false', parse: boolean });

/** Seconds a client has to send a whole request (headers and body) before 408 and close. */
export const REQUEST_TIMEOUT = variable('REQUEST_TIMEOUT', { default: '10s', parse: duration() });
/** How long a 429 (or a 503 with Retry-After) is held before it is sent; 0 sends it at once. */
export const THROTTLED_REPLY_DELAY = variable('THROTTLED_REPLY_DELAY', {
  default: '1s',
  parse: (raw) => {
    const seconds = duration({ allowZero: true })(raw);
    if (seconds > 10)
      throw new InvalidValue(`must be at most 10s (a held refusal keeps its connection open), got "${raw}"`);
    return seconds;
  },
});

export const DOCS_ENABLED = variable('DOCS_ENABLED', { default: 'true', parse: boolean });
export const DEMO_ENABLED = variable('DEMO_ENABLED', { default: 'true', parse: boolean });

export const REDIS_URL = variable<string | undefined>('REDIS_URL', {
  parse: (url) => {
    if (!/^rediss?:\/\/\S+$/.test(url))
      throw new InvalidValue(`must look like redis://host:6379, got "${redactedUrl(url)}"`);
    return url;
  },
});

export const REDIS_PREFIX = variable('REDIS_PREFIX', { default: 'nta:', parse: text });
