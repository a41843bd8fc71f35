import { describe, expect, it } from '@jest/globals';
import { describeDatabase } from './startup-summary.js';

describe('describeDatabase', () => {
  const postgres = (url: string) =>
    describeDatabase({ type: 'postgres', url, logging: false, busyTimeout: 5, sqliteCacheMb: 4 });

  it('names a PostgreSQL database by user, host and database, without the password, query string or fragment', () => {
    expect(postgres('postgres://auth:hunter2@db:5432/auth')).toBe('PostgreSQL postgres://auth@db:5432/auth');
    expect(postgres('postgres://auth:hunter2@db/auth?sslmode=verify-full&sslpassword=hunter2#hunter2')).toBe(
      'PostgreSQL postgres://auth@db/auth',
    );
  });

  it('shows nothing of a password with unencoded delimiters, and does not throw on text that is no URL', () => {
    expect(postgres('postgres://auth:hun/ter2@db/auth')).toBe('PostgreSQL postgres://***@db/auth');
    expect(postgres('postgres://auth:12?hunter2@db/auth')).toBe('PostgreSQL postgres://***@db/auth');
  });

  it('names a SQLite database by its file', () => {
    expect(
      describeDatabase({
        type: 'sqlite',
        url: 'sqlite::memory:',
        sqlitePath: ':memory:',
        logging: false,
        busyTimeout: 5,
        sqliteCacheMb: 4,
      }),
    ).toBe('SQLite in memory (gone at exit)');
  });
});
