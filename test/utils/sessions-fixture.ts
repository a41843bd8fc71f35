import { randomUUID } from 'node:crypto';
import { afterEach, expect } from '@jest/globals';
import type { TestingModule } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import type { ClientInfo } from '../../src/common/http/client-info.js';
import { InvalidRefreshTokenError, type RefreshRejection } from '../../src/sessions/invalid-refresh-token.error.js';
import { RefreshTokenRotationService } from '../../src/sessions/refresh-token-rotation.service.js';
import { RefreshToken } from '../../src/sessions/refresh-token.entity.js';
import { SessionStateCache } from '../../src/sessions/session-state.cache.js';
import { Session } from '../../src/sessions/session.entity.js';
import { SessionsModule } from '../../src/sessions/sessions.module.js';
import { SessionsService, type IssuedRefreshToken } from '../../src/sessions/sessions.service.js';
import { User } from '../../src/users/user.entity.js';
import { createTestingModule } from './testing-module.js';

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
/** A fixed clock, far from Date.now(), so nothing in the sessions specs depends on the real time. */
export const T0 = Date.UTC(2031, 0, 1);

export interface SessionsFixture {
  moduleRef: TestingModule;
  service: SessionsService;
  cache: SessionStateCache;
  dataSource: DataSource;
  /** A user who exists, so sessions can be created for it. */
  userId: string;
  /** `RefreshTokenRotationService.rotate` at a given time (`scope`: the requested scope tokens). */
  rotate(token: unknown, now: number, client?: ClientInfo, scope?: readonly string[]): Promise<IssuedRefreshToken>;
}

/**
 * The sessions module with its real collaborators (migrated in-memory SQLite, KeysService, the
 * session-state cache, the audit log, validated config with `env` over the unit defaults) and
 * one user. Close `moduleRef` in `afterEach`.
 */
export async function createSessionsFixture(env: Record<string, string> = {}): Promise<SessionsFixture> {
  const moduleRef = await createTestingModule({ env, imports: [SessionsModule] });
  const dataSource = moduleRef.get(DataSource);
  const rotation = moduleRef.get(RefreshTokenRotationService);
  return {
    moduleRef,
    service: moduleRef.get(SessionsService),
    cache: moduleRef.get(SessionStateCache),
    dataSource,
    userId: await insertUser(dataSource),
    rotate: (token, now, client = {}, scope) => rotation.rotate(token, client, now, scope),
  };
}

/** Inserts a user row directly (no argon2 work) and returns its id. */
export async function insertUser(
  dataSource: DataSource,
  username = `user-${randomUUID().slice(0, 8)}`,
): Promise<string> {
  const id = randomUUID();
  await dataSource.getRepository(User).insert({
    id,
    username,
    usernameNormalized: username.toLowerCase(),
    passwordHash: '$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA',
    createdAt: T0,
  });
  return id;
}

/** Awaits a rejection and checks it is an InvalidRefreshTokenError with that reason. */
export async function expectRejected(promise: Promise<unknown>, reason: RefreshRejection): Promise<void> {
  await expect(promise).rejects.toThrow(InvalidRefreshTokenError);
  await expect(promise).rejects.toMatchObject({ reason });
}

/** The stored refresh tokens (of one session, or all), oldest first. */
export function tokenRows(dataSource: DataSource, sessionId?: string): Promise<RefreshToken[]> {
  return dataSource
    .getRepository(RefreshToken)
    .find({ where: sessionId ? { sessionId } : {}, order: { createdAt: 'ASC' } });
}

/** The stored session row. */
export async function session(dataSource: DataSource, id: string): Promise<Session> {
  return dataSource.getRepository(Session).findOneByOrFail({ id });
}

/** Every cell of the session and token tables, as text, to look for a raw token. */
export async function allStoredText(dataSource: DataSource): Promise<string> {
  const tokens = await dataSource.query('SELECT * FROM refresh_tokens');
  const sessions = await dataSource.query('SELECT * FROM sessions');
  const cells = [...tokens, ...sessions].flatMap((row: Record<string, unknown>) => Object.values(row).map(String));
  expect(cells.length).toBeGreaterThan(0);
  return cells.join('\n');
}

/**
 * For a spec file: a setup that builds a fixture (with these variables) for the test that calls
 * it, and closes it after that test.
 */
export function sessionsFixturePerTest(): (env?: Record<string, string>) => Promise<SessionsFixture> {
  let fixture: SessionsFixture | undefined;
  afterEach(async () => {
    await fixture?.moduleRef.close();
    fixture = undefined;
  });
  return async (env = {}) => (fixture = await createSessionsFixture(env));
}
