import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { hashClientSecret, newClientId, newClientSecret } from '../../src/clients/client-secret.js';
import { basicAuth, FeedStream } from '../utils/revocation-feed-client.js';
import { deleteSession, jwtParts, login, logout, PASSWORD, register } from './api.js';
import {
  createDatabase,
  deleteRedisKeys,
  dropDatabase,
  freePort,
  instanceLogs,
  logDirectory,
  REDIS_URL,
  removeLogDirectory,
  runId,
  startInstance,
  stopInstance,
  type Instance,
} from './instances.js';

/**
 * The revocation feed across two real instances on one PostgreSQL database: a revocation made
 * at A reaches a subscriber of B within a second, with Redis (the broadcast wakes B's reader)
 * and without it (B's reader polls the table). `npm run test:multi` builds dist/ first.
 */

const DEADLINE_MS = 1000;

describe.each([
  ['with Redis', true],
  ['without Redis', false],
])('the revocation feed across two instances, %s', (_label, withRedis) => {
  const id = runId();
  const databaseName = `nta_feed_${id}`;
  const redisPrefix = `nta-feed-${id}:`;
  let databaseUrl: string;
  let logDir: string;
  let a: Instance | undefined;
  let b: Instance | undefined;
  let auth: string;
  let failed = false;
  let users = 0;

  async function newSession(base: string, username?: string) {
    const name = username ?? `feed_${id}_${++users}`;
    if (!username) expect((await register(base, name)).status).toBe(201);
    const answer = await login(base, name, PASSWORD);
    expect(answer.status).toBe(200);
    return { username: name, ...answer, sid: jwtParts(answer.accessToken!).payload.sid as string };
  }

  function scenario(name: string, fn: () => Promise<void>): void {
    it(name, async () => {
      try {
        await fn();
      } catch (error) {
        failed = true;
        console.error(
          `"${name}" failed; logs:\n${[a, b]
            .filter((i) => !!i)
            .map(instanceLogs)
            .join('\n')}`,
        );
        throw error;
      }
    });
  }

  beforeAll(async () => {
    logDir = logDirectory(id);
    databaseUrl = await createDatabase(databaseName);
    const portA = await freePort();
    let portB = await freePort();
    while (portB === portA) portB = await freePort();
    const env: Record<string, string> = {
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      JWT_ISSUER: `http://127.0.0.1:${portA}`,
      ARGON2_MEMORY_KIB: '1024',
      ARGON2_ITERATIONS: '1',
      REGISTER_MAX_PER_IP: '10000',
      LOGIN_MAX_PER_IP: '10000',
      LOG_LEVEL: 'warn',
      ...(withRedis ? { REDIS_URL, REDIS_PREFIX: redisPrefix } : {}),
    };
    a = await startInstance('A', portA, env, logDir);
    b = await startInstance('B', portB, env, logDir);
    // A client as `npm run clients -- create` makes one: only the secret's hash is stored.
    const clientId = newClientId();
    const secret = newClientSecret();
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      await db.query('INSERT INTO clients (id, name, secret_hash, created_at) VALUES ($1, $2, $3, $4)', [
        clientId,
        'orders api',
        hashClientSecret(secret),
        Date.now(),
      ]);
    } finally {
      await db.end();
    }
    auth = basicAuth(clientId, secret);
  });

  afterAll(async () => {
    await Promise.all([a, b].filter((i): i is Instance => !!i).map(stopInstance));
    await dropDatabase(databaseName);
    if (withRedis) await deleteRedisKeys(redisPrefix);
    if (failed) console.error(`revocation feed multi-instance logs kept in ${logDir}`);
    else removeLogDirectory(logDir);
  });

  scenario('a revocation at A reaches a stream at B within a second, after B backfilled the older ones', async () => {
    const old = await newSession(a!.baseUrl);
    expect((await logout(a!.baseUrl, old.refreshToken!)).status).toBe(204);

    const stream = await FeedStream.open(b!.baseUrl, auth);
    try {
      expect(stream.status).toBe(200);
      const backfilled = await stream.nth(1);
      expect(backfilled.data).toMatchObject({ sid: old.sid });

      for (const [i, revoke] of [
        async (s: Awaited<ReturnType<typeof newSession>>) =>
          expect((await logout(a!.baseUrl, s.refreshToken!)).status).toBe(204),
        async (s: Awaited<ReturnType<typeof newSession>>) => {
          const other = await newSession(a!.baseUrl, s.username);
          expect((await deleteSession(a!.baseUrl, other.accessToken!, s.sid)).status).toBe(204);
        },
      ].entries()) {
        const session = await newSession(a!.baseUrl);
        const revokedAt = Date.now();
        await revoke(session);
        const event = await stream.nth(2 + i, DEADLINE_MS + 500);
        const latency = Date.now() - revokedAt;
        expect({ event: event.data.sid, latency: latency <= DEADLINE_MS }).toEqual({
          event: session.sid,
          latency: true,
        });
      }
    } finally {
      await stream.close();
    }
  });

  scenario('SIGTERM with a stream open: B ends it and exits promptly, without SIGKILL', async () => {
    const stream = await FeedStream.open(b!.baseUrl, auth);
    expect(stream.status).toBe(200);
    await stream.until((s) => s.comments > 0);
    const stopped = await stopInstance(b!);
    expect({ killed: stopped.killed, code: stopped.code }).toEqual({ killed: false, code: 0 });
    await stream.closed();
    expect(stream.ended).toBe(true);
  });
});
