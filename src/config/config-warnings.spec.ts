import { describe, expect, it } from '@jest/globals';
import { configWarnings } from './config-warnings.js';
import { loadConfig } from './env.validation.js';

const KEY = 'q8V3nZt1Lb7RkW0yJ5mHc2Xg9PfD4sAe6Uo/NiKr+Ew=';
const SAFE = { NODE_ENV: 'production', JWT_ISSUER: 'https://auth.example.com', KEYS_ENCRYPTION_KEY: KEY };

const warnings = (env: Record<string, string>) => configWarnings(loadConfig(env));

describe('configWarnings', () => {
  it('says nothing outside production, whatever the settings', () => {
    expect(warnings({})).toEqual([]);
    expect(warnings({ NODE_ENV: 'test', COOKIE_SECURE: 'false' })).toEqual([]);
  });

  it('says nothing for a production configuration that is right', () => {
    expect(warnings(SAFE)).toEqual([]);
  });

  it('warns, one line each, for NODE_ENV=production with nothing else set', () => {
    const lines = warnings({ NODE_ENV: 'production' });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^JWT_ISSUER is http:\/\/localhost:3000 in production: .*a local, plain-http address/);
    expect(lines[1]).toMatch(/^KEYS_ENCRYPTION_KEY is not set in production: .*in the clear/);
    for (const line of lines) expect(line).not.toContain('\n');
  });

  it.each([
    ['https://localhost', 'a local address'],
    ['https://127.0.0.1:8443', 'a local address'],
    ['https://[::1]', 'a local address'],
    ['http://auth.example.com', 'a plain-http address'],
    ['http://127.1.2.3', 'a local, plain-http address'],
  ])('warns about the issuer %s (%s)', (issuer, what) => {
    expect(warnings({ ...SAFE, JWT_ISSUER: issuer })).toEqual([expect.stringContaining(`name ${what} that`)]);
  });

  it.each([
    [{ ARGON2_ITERATIONS: '2' }, 'ARGON2_MEMORY_KIB=7168 with ARGON2_ITERATIONS=2'],
    [{ ARGON2_MEMORY_KIB: '4096', ARGON2_ITERATIONS: '20' }, 'ARGON2_MEMORY_KIB=4096 with ARGON2_ITERATIONS=20'],
    [{ ARGON2_MEMORY_KIB: '1024', ARGON2_ITERATIONS: '1' }, 'ARGON2_MEMORY_KIB=1024 with ARGON2_ITERATIONS=1'],
  ])('warns about an argon2id cost below OWASP: %j', (env, start) => {
    expect(warnings({ ...SAFE, ...env })).toEqual([
      expect.stringMatching(new RegExp(`^${start} in production is below`)),
    ]);
  });

  it.each([
    { ARGON2_MEMORY_KIB: '19456', ARGON2_ITERATIONS: '2' },
    { ARGON2_MEMORY_KIB: '9216', ARGON2_ITERATIONS: '4' },
    { ARGON2_MEMORY_KIB: '47104', ARGON2_ITERATIONS: '1' },
    { ARGON2_MEMORY_KIB: '65536', ARGON2_ITERATIONS: '3' },
  ])("accepts OWASP's argon2id profiles and stronger: %j", (env) => {
    expect(warnings({ ...SAFE, ...env })).toEqual([]);
  });

  it('does not take a public name that starts with 127. for a loopback address', () => {
    expect(warnings({ ...SAFE, JWT_ISSUER: 'https://127.example.com' })).toEqual([]);
  });

  it('warns about COOKIE_SECURE=false in production', () => {
    expect(warnings({ ...SAFE, COOKIE_SECURE: 'false' })).toEqual([
      expect.stringMatching(/^COOKIE_SECURE=false in production: /),
    ]);
  });
});
