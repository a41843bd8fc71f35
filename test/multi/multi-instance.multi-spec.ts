import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import {
  audit,
  deleteSession,
  get,
  inBatches,
  jwtParts,
  login,
  logout,
  me,
  PASSWORD,
  pollUntilRefused,
  refresh,
  register,
  sleep,
  tally,
  type TokenAnswer,
} from './api.js';
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
  runCli,
  SHUTDOWN_GRACE_MS,
  startInstance,
  stopInstance,
  type Instance,
} from './instances.js';

/**
 * Two real processes (`node dist/main.js`) behind no load balancer, sharing one PostgreSQL
 * database and one Redis: what one instance does to a session, a throttle counter or a key,
 * the other must see. `npm run test:multi` builds dist/ first.
 */

/** The contract: a revocation reaches access tokens on every instance within 1 s. */
const REVOCATION_DEADLINE_MS = 1000;
/** Polling runs a little past the deadline, so a late refusal shows its real latency. */
const POLL_FOR_MS = 1500;
/**
 * An instance that answered 200 for a token just before the revocation holds the session as
 * live in its cache for SESSION_STATE_TTL_MS (750 ms). Refusing well inside that time proves the
 * Redis broadcast reached it, rather than the cache expiring on its own.
 */
const BROADCAST_BUDGET_MS = 400;
const MAX_FAILURES_PER_USER = 4;
const MAX_SESSIONS_PER_USER = 25;

const id = runId();
const databaseName = `nta_multi_${id}`;
const redisPrefix = `nta-multi-${id}:`;
let logDir: string;
let databaseCreated = false;
let a: Instance | undefined;
let b: Instance | undefined;
let failed = false;
let userCounter = 0;
let instanceEnv: Record<string, string>;

const A = () => a!.baseUrl;
const B = () => b!.baseUrl;

function printLogs(reason: string): void {
  const logs = [a, b].filter((i): i is Instance => !!i).map(instanceLogs);
  console.error(`${reason}; instance logs (kept in ${logDir}):\n${logs.join('\n')}`);
}

/** A test whose failure prints both instances' logs. */
function scenario(name: string, fn: () => Promise<void>): void {
  it(name, async () => {
    try {
      await fn();
    } catch (error) {
      failed = true;
      printLogs(`"${name}" failed`);
      throw error;
    }
  });
}

async function newUser(base: string): Promise<string> {
  userCounter += 1;
  const username = `multi_${id}_${userCounter}`;
  const response = await register(base, username);
  expect({ register: username, status: response.status }).toEqual({ register: username, status: 201 });
  return username;
}

async function loggedIn(
  base: string,
  username: string,
): Promise<TokenAnswer & { accessToken: string; refreshToken: string; sid: string }> {
  const response = await login(base, username);
  expect({ login: username, status: response.status }).toEqual({ login: username, status: 200 });
  expect(response.accessToken).toEqual(expect.any(String));
  expect(response.refreshToken).toMatch(/^[A-Za-z0-9_-]{20,}$/);
  return {
    ...response,
    accessToken: response.accessToken!,
    refreshToken: response.refreshToken!,
    sid: jwtParts(response.accessToken!).payload.sid as string,
  };
}

async function expectMe(base: string, accessToken: string, status: number, label: string): Promise<void> {
  const response = await me(base, accessToken);
  expect({ label, status: response.status }).toEqual({ label, status });
}

/** Asserts GET /auth/me on `base` refuses the token within the deadline; returns the latency. */
async function expectRefusedPromptly(base: string, accessToken: string, label: string): Promise<number> {
  const refusal = await pollUntilRefused(base, accessToken, POLL_FOR_MS);
  expect({ label, status: refusal.status, seen: refusal.seen }).toEqual({ label, status: 401, seen: refusal.seen });
  expect({ label, withinDeadline: refusal.elapsedMs <= REVOCATION_DEADLINE_MS, elapsedMs: refusal.elapsedMs }).toEqual({
    label,
    withinDeadline: true,
    elapsedMs: refusal.elapsedMs,
  });
  return refusal.elapsedMs;
}

function expectBroadcast(elapsedMs: number, label: string): void {
  expect({ label, broadcast: elapsedMs < BROADCAST_BUDGET_MS, elapsedMs }).toEqual({
    label,
    broadcast: true,
    elapsedMs,
  });
}

describe('two instances on one database and one Redis', () => {
  beforeAll(async () => {
    logDir = logDirectory(id);
    const databaseUrl = await createDatabase(databaseName);
    databaseCreated = true;
    const portA = await freePort();
    let portB = await freePort();
    while (portB === portA) portB = await freePort();
    const env = {
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      REDIS_URL,
      REDIS_PREFIX: redisPrefix,
      JWT_ISSUER: `http://127.0.0.1:${portA}`,
      ARGON2_MEMORY_KIB: '1024',
      ARGON2_ITERATIONS: '1',
      REFRESH_REUSE_GRACE: '0',
      LOGIN_MAX_FAILURES_PER_USER: String(MAX_FAILURES_PER_USER),
      // Every request here comes from 127.0.0.1, hundreds of logins at once: attempts in flight
      // count toward the per-IP limit until they succeed, so one address needs room for them.
      LOGIN_MAX_FAILURES_PER_IP: '10000',
      LOGIN_MAX_PER_IP: '10000',
      // Likewise for the registrations of every scenario, all from 127.0.0.1.
      REGISTER_MAX_PER_IP: '10000',
      MAX_SESSIONS_PER_USER: String(MAX_SESSIONS_PER_USER),
      LOG_LEVEL: 'warn',
    };
    instanceEnv = env;
    try {
      // A alone runs the migrations and generates the keys; B then finds both in the database.
      a = await startInstance('A', portA, env, logDir);
      b = await startInstance('B', portB, env, logDir);
    } catch (error) {
      failed = true;
      throw error;
    }
  });

  afterAll(async () => {
    await Promise.all([a, b].filter((i): i is Instance => !!i).map(stopInstance));
    if (databaseCreated) await dropDatabase(databaseName);
    await deleteRedisKeys(redisPrefix);
    if (failed) console.error(`multi-instance logs kept in ${logDir}`);
    else if (logDir) removeLogDirectory(logDir);
  });

  scenario(
    "a role change by the users CLI (a third process) cuts off the user's tokens on A and B within 1 s; a refresh right after passes on both",
    async () => {
      const username = await newUser(A());
      const onA = await loggedIn(A(), username);
      const onB = await loggedIn(B(), username);
      // Both instances hold both sessions as live in their caches.
      for (const [base, token] of [
        [A(), onA.accessToken],
        [B(), onA.accessToken],
        [A(), onB.accessToken],
        [B(), onB.accessToken],
      ] as const)
        await expectMe(base, token, 200, 'before the change');

      const granted = await runCli('users', instanceEnv, logDir, 'grant', username, 'auditor');
      expect({ status: granted.status, stderr: granted.stderr }).toEqual({ status: 0, stderr: '' });
      const latencies = await Promise.all([
        expectRefusedPromptly(A(), onA.accessToken, 'A, token from A'),
        expectRefusedPromptly(B(), onA.accessToken, 'B, token from A'),
        expectRefusedPromptly(B(), onB.accessToken, 'B, token from B'),
      ]);
      // Cached as live on both: refused well before the cache would have expired, so Redis carried it.
      for (const elapsedMs of latencies) expectBroadcast(elapsedMs, 'cut-off broadcast');

      const next = await refresh(B(), onA.refreshToken);
      expect(next.status).toBe(200);
      expect(jwtParts(next.accessToken!).payload.roles).toEqual(['auditor']);
      await expectMe(A(), next.accessToken!, 200, 'A, token refreshed after the change');
      await expectMe(B(), next.accessToken!, 200, 'B, token refreshed after the change');
    },
  );

  scenario('GET /health on both: 200 with database and redis up', async () => {
    for (const [name, base] of [
      ['A', A()],
      ['B', B()],
    ] as const) {
      const response = await get(base, '/health');
      expect({ instance: name, status: response.status }).toEqual({ instance: name, status: 200 });
      expect(response.body).toMatchObject({
        status: 'ok',
        info: { database: { status: 'up' }, redis: { status: 'up' } },
      });
    }
  });

  scenario('both publish the same JWKS, and a token minted on A verifies on B (and back)', async () => {
    const [jwksA, jwksB] = await Promise.all([get(A(), '/.well-known/jwks.json'), get(B(), '/.well-known/jwks.json')]);
    expect([jwksA.status, jwksB.status]).toEqual([200, 200]);
    const keys = (jwksA.body as JSONWebKeySet).keys;
    expect(keys.length).toBeGreaterThanOrEqual(1);
    expect(jwksB.body).toEqual(jwksA.body);

    const username = await newUser(A());
    const onA = await loggedIn(A(), username);
    const kid = jwtParts(onA.accessToken).header.kid;
    expect(keys.map((key) => key.kid)).toContain(kid);
    // B's published keys alone verify A's token, as a resource server would check it.
    const { payload } = await jwtVerify(onA.accessToken, createLocalJWKSet(jwksB.body as JSONWebKeySet), {
      issuer: `http://127.0.0.1:${a!.port}`,
    });
    expect(payload.sid).toBe(onA.sid);
    const meOnB = await me(B(), onA.accessToken);
    expect(meOnB.status).toBe(200);
    expect(meOnB.body).toMatchObject({ username });

    const onB = await loggedIn(B(), username);
    await expectMe(A(), onB.accessToken, 200, 'token minted on B, checked on A');
  });

  scenario('refresh-token reuse across instances revokes the session everywhere', async () => {
    const username = await newUser(A());
    const first = await loggedIn(A(), username);

    const rotated = await refresh(B(), first.refreshToken);
    expect(rotated.status).toBe(200);
    expect(rotated.refreshToken).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(rotated.refreshToken).not.toBe(first.refreshToken);
    const latestAccess = rotated.accessToken!;
    // Both instances hold the session as live right now (their caches are warm).
    await expectMe(A(), latestAccess, 200, 'latest access token on A before the replay');
    await expectMe(B(), latestAccess, 200, 'latest access token on B before the replay');

    // Grace is 0: presenting the already rotated token is reuse.
    const replay = await refresh(A(), first.refreshToken);
    expect({ replayOnA: replay.status }).toEqual({ replayOnA: 401 });

    const [onA, onB] = await Promise.all([
      expectRefusedPromptly(A(), latestAccess, 'latest access token on A after reuse'),
      expectRefusedPromptly(B(), latestAccess, 'latest access token on B after reuse'),
    ]);
    expectBroadcast(onB, 'B learns of the reuse detected on A');
    expect(onA).toBeLessThan(BROADCAST_BUDGET_MS);

    const newest = await refresh(B(), rotated.refreshToken!);
    expect({ newestOnB: newest.status }).toEqual({ newestOnB: 401 });
    await expectMe(A(), first.accessToken, 401, 'first access token on A');
  });

  scenario('POST /auth/logout on B: A refuses the session within 1 s', async () => {
    const username = await newUser(A());
    const session = await loggedIn(A(), username);
    await expectMe(A(), session.accessToken, 200, 'access token on A before logout');

    const out = await logout(B(), session.refreshToken);
    expect(out.status).toBe(204);
    expect(out.refreshToken).toBe('');

    expectBroadcast(
      await expectRefusedPromptly(A(), session.accessToken, 'access token on A after logout on B'),
      'logout on B',
    );
    const again = await refresh(A(), session.refreshToken);
    expect({ refreshOnA: again.status }).toEqual({ refreshOnA: 401 });
  });

  scenario('DELETE /auth/sessions/:id on B: A refuses that session within 1 s, and only that one', async () => {
    const username = await newUser(A());
    const target = await loggedIn(A(), username);
    const other = await loggedIn(A(), username);
    expect(target.sid).not.toBe(other.sid);
    await expectMe(A(), target.accessToken, 200, 'target access token on A before the delete');

    const deleted = await deleteSession(B(), other.accessToken, target.sid);
    expect(deleted.status).toBe(204);

    expectBroadcast(
      await expectRefusedPromptly(A(), target.accessToken, 'target access token on A after DELETE on B'),
      'DELETE on B',
    );
    await expectMe(A(), other.accessToken, 200, 'the other session on A');
    const again = await refresh(A(), target.refreshToken);
    expect({ refreshOnA: again.status }).toEqual({ refreshOnA: 401 });
  });

  scenario('failed logins on A and B add up to one throttle', async () => {
    const username = await newUser(A());
    const bystander = await newUser(B());
    await loggedIn(A(), username);

    const failures = [];
    for (const base of [A(), A(), B(), B()]) failures.push((await login(base, username, `${PASSWORD}!wrong`)).status);
    expect(failures).toEqual([401, 401, 401, 401]);
    expect(failures.length).toBe(MAX_FAILURES_PER_USER);

    for (const [name, base] of [
      ['A', A()],
      ['B', B()],
    ] as const) {
      const blocked = await login(base, username, PASSWORD);
      expect({ instance: name, status: blocked.status }).toEqual({ instance: name, status: 429 });
      const retryAfter = Number(blocked.headers.get('retry-after'));
      expect({
        instance: name,
        retryAfterValid: Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 15 * 60,
        retryAfter,
      }).toEqual({
        instance: name,
        retryAfterValid: true,
        retryAfter,
      });
      expect(blocked.refreshToken).toBeUndefined();
    }
    // The block is per username: the same client IP still logs other users in.
    await loggedIn(A(), bystander);
  });

  scenario(
    'password checks on A and B, right ones included, add up to one LOGIN_MAX_PER_USER (default 30)',
    async () => {
      const username = await newUser(A());
      const statuses = [];
      for (let i = 0; i < 30; i++) statuses.push((await login(i % 2 ? B() : A(), username)).status);
      expect(statuses).toEqual(Array(30).fill(200));
      for (const [name, base] of [
        ['A', A()],
        ['B', B()],
      ] as const) {
        const blocked = await login(base, username);
        expect({
          instance: name,
          status: blocked.status,
          retryAfter: Number(blocked.headers.get('retry-after')) > 0,
        }).toEqual({
          instance: name,
          status: 429,
          retryAfter: true,
        });
      }
    },
  );

  scenario('refused logins on A and B add to one counted login_throttled row', async () => {
    const username = await newUser(A());
    const reader = await loggedIn(B(), username);
    for (const base of [A(), B(), A(), B()])
      expect((await login(base, username, `${PASSWORD}!wrong`)).status).toBe(401);
    const refused = await Promise.all(
      Array.from({ length: 40 }, (_, i) => login(i % 2 ? B() : A(), username, `${PASSWORD}!wrong`)),
    );
    expect(tally(refused.map((r) => r.status))).toEqual({ 429: 40 });
    // Each instance adds its repeats to the shared row about once a second.
    await sleep(1500);

    const events = await audit(A(), reader.accessToken);
    expect(events.status).toBe(200);
    const throttled = (
      events.body as { items: Array<{ type: string; detail: { count?: number } | null }> }
    ).items.filter((e) => e.type === 'login_throttled');
    // One row (two only if the burst straddled a throttle window's boundary), counting all 40.
    expect(throttled.length).toBeGreaterThanOrEqual(1);
    expect(throttled.length).toBeLessThanOrEqual(2);
    expect(throttled.reduce((n, e) => n + (e.detail?.count ?? 0), 0)).toBe(40);
  });

  scenario(
    `a login on B beyond MAX_SESSIONS_PER_USER (${MAX_SESSIONS_PER_USER}) evicts the least recently used session, and A refuses it within 1 s`,
    async () => {
      const username = await newUser(A());
      const oldest = await loggedIn(A(), username);
      const rest = await inBatches(
        Array.from({ length: MAX_SESSIONS_PER_USER - 1 }, (_, i) => i),
        4,
        () => loggedIn(A(), username),
      );
      await expectMe(A(), oldest.accessToken, 200, 'the least recently used session on A before the limit is passed');

      const newest = await loggedIn(B(), username);

      expectBroadcast(
        await expectRefusedPromptly(A(), oldest.accessToken, 'evicted session on A after a login on B'),
        'eviction on B',
      );
      const again = await refresh(A(), oldest.refreshToken);
      expect({ evictedRefreshOnA: again.status }).toEqual({ evictedRefreshOnA: 401 });
      await expectMe(A(), rest[0].accessToken, 200, 'the next session, still within the limit');
      await expectMe(B(), newest.accessToken, 200, 'the new session');
    },
  );

  scenario('200 parallel refreshes of 200 sessions, split across A and B: all 200', async () => {
    const users = await inBatches(
      Array.from({ length: 10 }, (_, i) => i),
      5,
      (i) => newUser(i % 2 ? B() : A()),
    );
    const sessions = await inBatches(
      Array.from({ length: 200 }, (_, i) => i),
      20,
      (i) => loggedIn(i < 100 ? A() : B(), users[i % users.length]),
    );
    expect(new Set(sessions.map((s) => s.sid)).size).toBe(200);

    // Every other session goes to the instance it was not logged in on.
    const results = await Promise.all(sessions.map((s, i) => refresh(i % 2 ? B() : A(), s.refreshToken)));

    expect(tally(results.map((r) => r.status))).toEqual({ 200: 200 });
    const newTokens = results.map((r) => r.refreshToken);
    for (const [i, token] of newTokens.entries()) {
      expect({
        i,
        newCookie: typeof token === 'string' && token.length > 0 && token !== sessions[i].refreshToken,
      }).toEqual({ i, newCookie: true });
      expect(results[i].accessToken).toEqual(expect.any(String));
    }
    expect(new Set(newTokens).size).toBe(200);
  });

  scenario('rotation is atomic across instances: 10 + 10 concurrent refreshes of one token, one 200', async () => {
    const username = await newUser(B());
    for (let round = 0; round < 5; round += 1) {
      const session = await loggedIn(round % 2 ? B() : A(), username);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => refresh(i % 2 ? B() : A(), session.refreshToken)),
      );
      const statuses = results.map((r) => r.status);
      expect({ round, statuses: tally(statuses) }).toEqual({ round, statuses: { 200: 1, 401: 19 } });
      const winner = results.find((r) => r.status === 200)!;
      expect(winner.refreshToken).toMatch(/^[A-Za-z0-9_-]{20,}$/);
      // The 19 replays were reuse (grace 0), so the session is gone, winner's token included.
      const after = await refresh(A(), winner.refreshToken!);
      expect({ round, winnerTokenAfterReuse: after.status }).toEqual({ round, winnerTokenAfterReuse: 401 });
    }
  });

  scenario(
    `SIGTERM stops both gracefully, idle (A) and busy (B): exit code 0 within ${SHUTDOWN_GRACE_MS / 1000} s`,
    async () => {
      const username = await newUser(B());
      // Logins still running on B when the signal arrives; each must end in an answer, not a 500.
      const inFlight = Array.from({ length: 20 }, () =>
        login(B(), username).then(
          (response) => response.status,
          () => 'connection closed' as const,
        ),
      );
      await sleep(25);
      const results = await Promise.all(
        [a!, b!].map(async (instance) => {
          const { code, signal, killed, elapsedMs } = await stopInstance(instance);
          return { instance: instance.name, code, signal, killed, inTime: elapsedMs < SHUTDOWN_GRACE_MS, elapsedMs };
        }),
      );
      const outcomes = await Promise.all(inFlight);
      // Both at once, so a failure shows how each one ended.
      expect(results).toEqual(
        results.map(({ instance, elapsedMs }) => ({
          instance,
          code: 0,
          signal: null,
          killed: false,
          inTime: true,
          elapsedMs,
        })),
      );
      // 429: 20 simultaneous logins of one user exceed its attempt limit while in flight (by design).
      expect(outcomes.filter((outcome) => ![200, 429, 503, 'connection closed'].includes(outcome))).toEqual([]);
    },
  );
});
