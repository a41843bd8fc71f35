import { describe, expect, it } from '@jest/globals';
import { describeUrl, redactedUrl } from './redacted-url.js';

describe('redactedUrl', () => {
  it.each([
    ['postgres://alice:s3cret@db:5432/auth', 'postgres://***@db:5432/auth'],
    ['postgres://alice:s3cret@db:5432/auth?sslmode=require&password=s3cret#x', 'postgres://***@db:5432/auth'],
    ['postgres://alice:s3c@r/t?#x@db/auth', 'postgres://***@db/auth'],
    ['redis://:s3cret@cache:6379/0', 'redis://***@cache:6379/0'],
    ['mysql://alice:s3cret@db/auth', 'mysql://***@db/auth'],
    ['mysql:alice:s3cret@db/auth', 'mysql:***@db/auth'],
    ['postgres://db/auth?password=s3cret', 'postgres://db/auth'],
    ['redis://cache:6379', 'redis://cache:6379'],
    ['not a url', 'not a url'],
  ])('%s → %s', (raw, redacted) => {
    expect(redactedUrl(raw)).toBe(redacted);
    expect(redactedUrl(raw)).not.toContain('s3c');
  });
});

describe('describeUrl', () => {
  it.each([
    ['postgres://alice:s3cret@db:5432/auth', 'postgres://alice@db:5432/auth'],
    ['postgresql://alice:s3cret@db/auth?sslmode=require&sslpassword=s3cret#frag', 'postgresql://alice@db/auth'],
    ['postgres://alice@db/auth', 'postgres://alice@db/auth'],
    ['postgres://:s3cret@db/auth', 'postgres://db/auth'],
    ['rediss://default:s3cret@cache:6380/2', 'rediss://default@cache:6380/2'],
    // An unencoded "@", "/", "?" or "#" in the password: nothing of it may show.
    ['postgres://alice:s3c@ret@db/auth', 'postgres://alice@db/auth'],
    ['postgres://alice:12/s3cret@db/auth', 'postgres://***@db/auth'],
    ['postgres://alice:12?s3cret@db/auth', 'postgres://***@db/auth'],
    ['postgres://alice:s3c#ret@db/auth', 'postgres://***@db/auth'],
    ['postgres://alice:s3c/ret@db/auth', 'postgres://***@db/auth'],
    ['postgres://alice:s3c@r/et@db/auth', 'postgres://***@db/auth'],
  ])('%s → %s', (raw, described) => {
    expect(describeUrl(raw)).toBe(described);
    expect(describeUrl(raw)).not.toMatch(/s3c|ret|\?|#/);
  });
});
