import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from './env.validation.js';

/** Runs loadConfig and returns the ConfigError it throws, failing when it throws nothing or something else. */
function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  describe('defaults', () => {
    const config = loadConfig({});

    it('runs in development', () => {
      expect(config.env).toBe('development');
    });

    it('listens on 127.0.0.1:3000', () => {
      expect(config.http.port).toBe(3000);
      expect(config.http.host).toBe('127.0.0.1');
    });

    it('uses the SQLite file under ./data', () => {
      expect(config.database).toEqual({
        url: 'sqlite:./data/auth.sqlite',
        type: 'sqlite',
        sqlitePath: './data/auth.sqlite',
        logging: false,
        busyTimeout: 5,
        sqliteCacheMb: 4,
      });
    });

    it('has 1h access tokens, 1d refresh tokens, 30d sessions and a 10s reuse grace', () => {
      expect(config.auth.accessTokenTtl).toBe(3600);
      expect(config.auth.refreshTokenTtl).toBe(86400);
      expect(config.auth.sessionMaxAge).toBe(30 * 86400);
      expect(config.auth.refreshReuseGrace).toBe(10);
    });

    it('derives the issuer from the port and has no JWT secret', () => {
      expect(config.auth.issuer).toBe('http://localhost:3000');
      expect(config.auth.jwtSecret).toBeUndefined();
      expect(loadConfig({ PORT: '8080' }).auth.issuer).toBe('http://localhost:8080');
    });

    it("uses OWASP's 7 MiB × 5 passes argon2id profile", () => {
      expect(config.auth.argon2).toEqual({ memoryCost: 7168, timeCost: 5, parallelism: 1 });
    });

    it('sends the cookie without Secure in development and test, with it in production', () => {
      expect(config.http.cookieSecure).toBe(false);
      expect(loadConfig({ NODE_ENV: 'test' }).http.cookieSecure).toBe(false);
      expect(loadConfig({ NODE_ENV: 'production' }).http.cookieSecure).toBe(true);
    });

    it('signs access tokens with RS256 from a generated key, never rotated automatically', () => {
      expect(config.auth).toMatchObject({ jwtAlg: 'RS256', keyRotationInterval: 0, passwordGrantEnabled: true });
      expect(config.auth.allowedScopes).toEqual([]);
      expect(config.auth.keysEncryptionKey).toBeUndefined();
    });

    it('trusts no proxy, allows no CORS origin and throttles logins', () => {
      expect(config.http).toMatchObject({ trustProxy: false, corsOrigins: [], logLevel: 'info', logRequests: false });
      expect(config.http.requestTimeout).toBe(10);
      expect(config.throttle).toEqual({
        maxFailuresPerIp: 20,
        maxFailuresPerUser: 5,
        window: 900,
        maxChecksPerIp: 300,
        maxChecksPerUser: 30,
        registerMaxPerIp: 30,
        registerWindow: 3600,
      });
      expect(loadConfig({ NODE_ENV: 'test' }).http.logLevel).toBe('warn');
    });

    it('serves Swagger UI and the demo page', () => {
      expect(config.http).toMatchObject({ docsEnabled: true, demoEnabled: true });
    });

    it('limits registrations, sessions per user and waiting hashes, and keeps audit events 90 days', () => {
      expect(config.throttle).toMatchObject({ registerMaxPerIp: 30, registerWindow: 3600 });
      expect(config.auth.maxSessionsPerUser).toBe(50);
      expect(config.auth.passwordHashQueue).toBeUndefined();
      expect(config.audit).toEqual({ retention: 90 * 86400 });
    });

    it('treats empty and blank variables as unset', () => {
      expect(loadConfig({ PORT: '', HOST: '  ', ACCESS_TOKEN_TTL: ' ', NODE_ENV: ' ', JWT_SECRET: '' })).toEqual(
        config,
      );
    });
  });

  describe('overrides', () => {
    it('reads every variable', () => {
      const config = loadConfig({
        NODE_ENV: 'test',
        PORT: ' 8080 ',
        HOST: '0.0.0.0',
        JWT_ISSUER: 'https://auth.example.org/',
        ACCESS_TOKEN_TTL: '15m',
        REFRESH_TOKEN_TTL: '7d',
        SESSION_MAX_AGE: '90d',
        REFRESH_REUSE_GRACE: '30',
        COOKIE_SECURE: 'YES',
        DATABASE_URL: 'postgresql://u:p@db:5432/auth',
        DATABASE_LOGGING: '1',
        DATABASE_BUSY_TIMEOUT: '2m',
        ARGON2_MEMORY_KIB: '1024',
        ARGON2_ITERATIONS: '3',
        ARGON2_PARALLELISM: '4',
        JWT_ALG: 'HS256',
        JWT_SECRET: 'dev',
        REQUEST_TIMEOUT: '30s',
        THROTTLED_REPLY_DELAY: '3s',
      });
      expect(config).toMatchObject({
        env: 'test',
        http: {
          port: 8080,
          host: '0.0.0.0',
          cookieSecure: true,
          bodyLimit: 100 * 1024,
          requestTimeout: 30,
          throttledReplyDelay: 3,
        },
        auth: {
          issuer: 'https://auth.example.org',
          jwtSecret: 'dev',
          accessTokenTtl: 900,
          refreshTokenTtl: 7 * 86400,
          sessionMaxAge: 90 * 86400,
          refreshReuseGrace: 30,
          argon2: { memoryCost: 1024, timeCost: 3, parallelism: 4 },
        },
        database: { url: 'postgresql://u:p@db:5432/auth', type: 'postgres', logging: true, busyTimeout: 120 },
      });
    });

    it('reads THROTTLED_REPLY_DELAY as whole seconds, 1 by default, 0 for none', () => {
      expect(loadConfig({}).http.throttledReplyDelay).toBe(1);
      expect(loadConfig({ THROTTLED_REPLY_DELAY: '0' }).http.throttledReplyDelay).toBe(0);
      expect(loadConfig({ THROTTLED_REPLY_DELAY: '10s' }).http.throttledReplyDelay).toBe(10);
    });

    it('reads the signing algorithm case-insensitively and key rotation as a duration or off', () => {
      expect(loadConfig({ JWT_ALG: 'es256' }).auth.jwtAlg).toBe('ES256');
      expect(loadConfig({ JWT_KEY_ROTATION: '30d' }).auth.keyRotationInterval).toBe(30 * 86400);
      for (const off of ['off', 'OFF', '0', 'false']) {
        expect(loadConfig({ JWT_KEY_ROTATION: off }).auth.keyRotationInterval).toBe(0);
      }
    });

    it('reads CORS origins as a list without trailing slashes', () => {
      expect(loadConfig({ CORS_ORIGINS: 'https://app.example.org/, http://localhost:5173' }).http.corsOrigins).toEqual([
        'https://app.example.org',
        'http://localhost:5173',
      ]);
    });

    it('reads the capacity limits', () => {
      const config = loadConfig({
        REGISTER_MAX_PER_IP: '5',
        REGISTER_WINDOW: '10m',
        MAX_SESSIONS_PER_USER: '3',
        PASSWORD_HASH_QUEUE: '0',
        AUDIT_RETENTION: '30d',
        LOGIN_MAX_PER_IP: '50',
        LOGIN_MAX_PER_USER: '7',
      });
      expect(config.throttle).toMatchObject({
        registerMaxPerIp: 5,
        registerWindow: 600,
        maxChecksPerIp: 50,
        maxChecksPerUser: 7,
      });
      expect(config.auth).toMatchObject({ maxSessionsPerUser: 3, passwordHashQueue: 0 });
      expect(config.audit.retention).toBe(30 * 86400);
    });

    it('reads ALLOWED_SCOPES as distinct tokens in the order given, any run of spaces between them', () => {
      expect(loadConfig({ ALLOWED_SCOPES: ' notes:write  notes:read admin ' }).auth.allowedScopes).toEqual([
        'notes:write',
        'notes:read',
        'admin',
      ]);
    });

    it('allows a reuse grace of zero', () => {
      expect(loadConfig({ REFRESH_REUSE_GRACE: '0' }).auth.refreshReuseGrace).toBe(0);
    });

    it('lets COOKIE_SECURE=false override production', () => {
      expect(loadConfig({ NODE_ENV: 'production', COOKIE_SECURE: 'false' }).http.cookieSecure).toBe(false);
    });

    it('turns Swagger UI and the demo page off separately', () => {
      expect(loadConfig({ DOCS_ENABLED: 'false' }).http).toMatchObject({ docsEnabled: false, demoEnabled: true });
      expect(loadConfig({ DEMO_ENABLED: '0' }).http).toMatchObject({ docsEnabled: true, demoEnabled: false });
    });

    it('accepts an in-memory SQLite database', () => {
      expect(loadConfig({ DATABASE_URL: 'sqlite::memory:' }).database).toMatchObject({
        type: 'sqlite',
        sqlitePath: ':memory:',
      });
    });
  });

  describe('rejects bad values with a message naming the variable', () => {
    it.each([
      ['PORT', 'abc'],
      ['PORT', '-1'],
      ['PORT', '65536'],
      ['PORT', '80.5'],
      ['ACCESS_TOKEN_TTL', '0'],
      ['ACCESS_TOKEN_TTL', '1w'],
      ['REFRESH_TOKEN_TTL', '0s'],
      ['REFRESH_TOKEN_TTL', '-1'],
      ['SESSION_MAX_AGE', 'forever'],
      ['REFRESH_REUSE_GRACE', '-1'],
      ['REFRESH_REUSE_GRACE', 'soon'],
      ['DATABASE_URL', 'mysql://u:p@db/auth'],
      ['DATABASE_URL', 'sqlite:'],
      ['DATABASE_LOGGING', 'verbose'],
      ['DATABASE_BUSY_TIMEOUT', '0'],
      ['DATABASE_BUSY_TIMEOUT', '500ms'],
      ['NODE_ENV', 'staging'],
      ['NODE_ENV', 'Production'],
      ['COOKIE_SECURE', 'maybe'],
      ['JWT_ISSUER', 'notaurl'],
      ['JWT_ISSUER', 'ftp://auth.example.org'],
      ['JWT_ISSUER', 'http://auth example.org'],
      ['ARGON2_MEMORY_KIB', '512'],
      ['ARGON2_ITERATIONS', '0'],
      ['ARGON2_PARALLELISM', '17'],
      ['JWT_ALG', 'none'],
      ['JWT_ALG', 'HS512'],
      ['JWT_KEY_ROTATION', 'weekly'],
      ['KEYS_ENCRYPTION_KEY', 'too-short'],
      ['PASSWORD_GRANT_ENABLED', 'sometimes'],
      ['ALLOWED_SCOPES', 'notes:read "quoted"'],
      ['ALLOWED_SCOPES', 'notes:read\tnotes:write'],
      ['ALLOWED_SCOPES', 'notes:read notes:read'],
      ['TRUST_PROXY', 'all'],
      ['CORS_ORIGINS', '*'],
      ['CORS_ORIGINS', 'https://app.example.org/path'],
      ['LOG_LEVEL', 'verbose'],
      ['LOG_REQUESTS', 'maybe'],
      ['DOCS_ENABLED', 'off'],
      ['DEMO_ENABLED', 'maybe'],
      ['LOGIN_MAX_FAILURES_PER_IP', '0'],
      ['LOGIN_MAX_FAILURES_PER_USER', 'five'],
      ['LOGIN_THROTTLE_WINDOW', '0'],
      ['LOGIN_MAX_PER_IP', '0'],
      ['LOGIN_MAX_PER_USER', 'many'],
      ['REQUEST_TIMEOUT', '0'],
      ['REQUEST_TIMEOUT', '500ms'],
      ['THROTTLED_REPLY_DELAY', '11s'],
      ['THROTTLED_REPLY_DELAY', '1m'],
      ['THROTTLED_REPLY_DELAY', 'off'],
      ['REGISTER_MAX_PER_IP', '0'],
      ['REGISTER_WINDOW', 'hourly'],
      ['MAX_SESSIONS_PER_USER', '0'],
      ['PASSWORD_HASH_QUEUE', '-1'],
      ['PASSWORD_HASH_QUEUE', 'lots'],
      ['AUDIT_RETENTION', '0'],
      ['AUDIT_RETENTION', 'forever'],
    ])('%s=%j', (name, value) => {
      const error = configError({ [name]: value });
      expect(error.name).toBe('ConfigError');
      expect(error.message).toContain(name);
      expect(error.message).not.toContain('\n');
    });
  });

  describe('reports every bad variable at once', () => {
    it('one line per bad variable, in the order of the schema', () => {
      const error = configError({ PORT: 'abc', ACCESS_TOKEN_TTL: '1w', LOG_LEVEL: 'verbose', COOKIE_SECURE: 'maybe' });
      expect(error.problems).toEqual([
        'PORT must be an integer from 0 to 65535, got "abc"',
        'ACCESS_TOKEN_TTL must be a positive duration in seconds or with a unit (30s, 15m, 1h, 1d), got "1w"',
        'COOKIE_SECURE must be true or false, got "maybe"',
        'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"',
      ]);
      expect(error.message).toBe(error.problems.join('\n'));
    });

    it('quotes a bad DATABASE_URL or REDIS_URL without the password it may carry', () => {
      expect(
        configError({
          DATABASE_URL: 'mysql://auth:hunter2@db:3306/auth?password=hunter2',
          REDIS_URL: 'http://default:hunter2@cache:6379',
        }).problems,
      ).toEqual([
        'DATABASE_URL must start with sqlite: or postgres://, got "mysql://***@db:3306/auth"',
        'REDIS_URL must look like redis://host:6379, got "http://***@cache:6379"',
      ]);
      // A space in an unencoded password, which is what makes REDIS_URL malformed here.
      expect(configError({ REDIS_URL: 'redis://:hunter 2@cache:6379' }).message).not.toContain('hunter');
    });

    it('does not blame a variable for a bad one it depends on', () => {
      // JWT_SECRET is checked against JWT_ALG and NODE_ENV; with those bad, only they are reported.
      expect(configError({ JWT_ALG: 'none', JWT_SECRET: 'short' }).problems).toEqual([
        'JWT_ALG must be one of RS256, ES256, HS256, got "NONE"',
      ]);
      expect(configError({ NODE_ENV: 'staging', JWT_ALG: 'HS256', JWT_SECRET: 'short', PORT: 'x' }).problems).toEqual([
        'NODE_ENV must be one of development, production, test, got "staging"',
        'PORT must be an integer from 0 to 65535, got "x"',
      ]);
    });

    it('still reports a dependent variable that is wrong on its own', () => {
      expect(configError({ PORT: 'x', JWT_ISSUER: 'notaurl' }).problems).toEqual([
        'PORT must be an integer from 0 to 65535, got "x"',
        'JWT_ISSUER must be an http(s) URL, got "notaurl"',
      ]);
    });
  });

  describe('LOG_FORMAT', () => {
    it('is pretty in development, JSON elsewhere, and can be chosen', () => {
      expect(loadConfig({}).http.logFormat).toBe('pretty');
      expect(loadConfig({ NODE_ENV: 'production' }).http.logFormat).toBe('json');
      expect(loadConfig({ NODE_ENV: 'test' }).http.logFormat).toBe('json');
      expect(loadConfig({ LOG_FORMAT: 'json' }).http.logFormat).toBe('json');
      expect(loadConfig({ NODE_ENV: 'production', LOG_FORMAT: 'pretty' }).http.logFormat).toBe('pretty');
      expect(configError({ LOG_FORMAT: 'yaml' }).message).toContain('LOG_FORMAT');
    });
  });

  describe('JWT_SECRET', () => {
    it.each([
      ['changeme', 'changeme'],
      ['short', 'short'],
      ['32 of one letter', 'a'.repeat(32)],
      ['a repeated short pattern', 'abcd'.repeat(16)],
      ['a placeholder phrase', 'my-super-secret-jwt-key-that-is-long-enough-1234567890'],
      ['a "change me" hint', 'Please-CHANGE-this-to-a-random-value-0123456789'],
      ['an example value', 'example-7Hq2LmZ0vX9pR4sT1wK8nB6cD3fG5jY'],
    ])('is refused in production when it is %s', (_label, secret) => {
      const error = configError({ NODE_ENV: 'production', JWT_ALG: 'HS256', JWT_SECRET: secret });
      expect(error.message).toContain('JWT_SECRET');
      // The message must not echo the secret into logs.
      expect(error.message).not.toContain(secret);
    });

    it('accepts a strong random secret in production', () => {
      // Hex cannot contain any placeholder hint, so this never flakes.
      const secret = randomBytes(32).toString('hex');
      expect(loadConfig({ NODE_ENV: 'production', JWT_ALG: 'HS256', JWT_SECRET: secret }).auth.jwtSecret).toBe(secret);
      const fixed = 'q8V3nZt1Lb7RkW0yJ5mHc2Xg9PfD4sAe6Uo/NiKr+Ew=';
      expect(loadConfig({ NODE_ENV: 'production', JWT_ALG: 'HS256', JWT_SECRET: fixed }).auth.jwtSecret).toBe(fixed);
    });

    it('trims the secret', () => {
      const secret = randomBytes(32).toString('hex');
      expect(loadConfig({ NODE_ENV: 'production', JWT_ALG: 'HS256', JWT_SECRET: `  ${secret}\n` }).auth.jwtSecret).toBe(
        secret,
      );
    });

    it('is refused unless JWT_ALG=HS256 opts in to a shared secret', () => {
      const secret = randomBytes(32).toString('hex');
      expect(configError({ JWT_SECRET: secret }).message).toContain('JWT_SECRET');
      expect(configError({ JWT_ALG: 'RS256', JWT_SECRET: secret }).message).toContain('JWT_SECRET');
      expect(configError({ JWT_ALG: 'ES256', JWT_SECRET: secret }).message).not.toContain(secret);
    });

    it('accepts a short one outside production', () => {
      expect(loadConfig({ NODE_ENV: 'development', JWT_ALG: 'HS256', JWT_SECRET: 'dev' }).auth.jwtSecret).toBe('dev');
      expect(loadConfig({ NODE_ENV: 'test', JWT_ALG: 'HS256', JWT_SECRET: 'changeme' }).auth.jwtSecret).toBe(
        'changeme',
      );
    });
  });

  describe('KEYS_ENCRYPTION_KEY', () => {
    it('accepts a strong random key and does not echo a short one', () => {
      const key = randomBytes(32).toString('hex');
      expect(loadConfig({ NODE_ENV: 'production', KEYS_ENCRYPTION_KEY: key }).auth.keysEncryptionKey).toBe(key);
      expect(configError({ KEYS_ENCRYPTION_KEY: 'hunter2' }).message).not.toContain('hunter2');
    });

    // Like JWT_SECRET: a placeholder that merely reaches the length must not protect keys in production.
    it.each([
      ['32 of one letter', 'a'.repeat(32)],
      ['a placeholder phrase', 'change-me-to-a-long-random-value-please'],
    ])('is refused in production when it is %s', (_label, key) => {
      const error = configError({ NODE_ENV: 'production', KEYS_ENCRYPTION_KEY: key });
      expect(error.message).toContain('KEYS_ENCRYPTION_KEY');
      expect(error.message).not.toContain(key);
    });
  });
});

describe('TRUST_PROXY', () => {
  it.each<[string, boolean | number | string]>([
    ['false', false],
    ['true', true],
    ['1', 1],
    ['2', 2],
    ['10.0.0.0/8, 127.0.0.1', '10.0.0.0/8, 127.0.0.1'],
    ['::1', '::1'],
  ])('reads %s as %p', (raw, expected) => {
    expect(loadConfig({ TRUST_PROXY: raw }).http.trustProxy).toEqual(expected);
  });

  it('refuses anything else with one line naming the variable', () => {
    expect(() => loadConfig({ TRUST_PROXY: 'everyone' })).toThrow(/^TRUST_PROXY must be/);
  });
});
