import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { deleteSession, jwtParts, login, logout, PASSWORD, refresh, register, sleep } from '../multi/api.js';
import {
  createDatabase,
  deleteRedisKeys,
  dropDatabase,
  freePort,
  instanceLogs,
  logDirectory,
  REDIS_URL,
  removeLogDirectory,
  runCli,
  runId,
  startInstance,
  stopInstance,
  type Instance,
} from '../multi/instances.js';
import { CountingProxy } from './counting-proxy.js';
import { EXAMPLES, startExampleApi } from './processes.js';

/**
 * The proof of issue 14: two auth instances (PostgreSQL + Redis) and the two example APIs
 * (examples/express-api, examples/nest-api) as real processes. Each API reaches the auth server
 * through a CountingProxy: Express through instance A, Nest through instance B, so every
 * revocation made on one instance must reach an API subscribed at the other. `npm run
 * test:resource-servers` builds first.
 */

/** The contract: a revoked session's tokens are refused by every API on the kit within 1 s. */
const DEADLINE_MS = 1000;
/** Polling runs past the deadline, so a late refusal shows its real latency. */
const POLL_FOR_MS = 1500;
/** The APIs' maxStaleness (s): short, so the stale cases take seconds, not minutes. */
const MAX_STALENESS = 2;
const STALE_MS = MAX_STALENESS * 1000 + 700;
const MAX_SESSIONS_PER_USER = 3;
const FEED = '/auth/revocations';
const JWKS = '/.well-known/jwks.json';
const INTROSPECT = '/auth/introspect';

const id = runId();
const databaseName = `nta_rs_${id}`;
const redisPrefix = `nta-rs-${id}:`;
let logDir: string;
let databaseCreated = false;
let failed = false;
let authEnv: Record<string, string>;
let a: Instance | undefined;
let b: Instance | undefined;
let expressApi: Instance | undefined;
let nestApi: Instance | undefined;
let lateApi: Instance | undefined;
const proxies: CountingProxy[] = [];
let expressProxy: CountingProxy;
let nestProxy: CountingProxy;
let client: { id: string; secret: string };
let userCounter = 0;
/** Every token some scenario revoked: an API started later must refuse them all. */
const revoked: { label: string; token: string }[] = [];
/** Milliseconds from each revocation's answer to each API's first refusal, printed at the end. */
const latencies: { path: string; api: string; ms: number }[] = [];

const A = () => a!.baseUrl;
const B = () => b!.baseUrl;
const apis = () => [expressApi!, nestApi!];

function scenario(name: string, fn: () => Promise<void>): void {
  it(name, async () => {
    try {
      await fn();
    } catch (error) {
      failed = true;
      const logs = [a, b, expressApi, nestApi, lateApi].filter((p): p is Instance => !!p).map(instanceLogs);
      console.error(`"${name}" failed; logs (kept in ${logDir}):\n${logs.join('\n')}`);
      throw error;
    }
  });
}

type Session = { accessToken: string; refreshToken: string; sid: string; username: string };

async function newUser(): Promise<string> {
  userCounter += 1;
  const username = `rs_${id}_${userCounter}`;
  const response = await register(A(), username);
  expect({ register: username, status: response.status }).toEqual({ register: username, status: 201 });
  return username;
}

async function signIn(base: string, username: string, password = PASSWORD): Promise<Session> {
  const response = await login(base, username, password);
  expect({ login: username, status: response.status }).toEqual({ login: username, status: 200 });
  const accessToken = response.accessToken!;
  return {
    accessToken,
    refreshToken: response.refreshToken!,
    sid: jwtParts(accessToken).payload.sid as string,
    username,
  };
}

async function status(api: Instance, token: string | undefined, path = '/orders'): Promise<number> {
  const response = await fetch(`${api.baseUrl}${path}`, {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
    signal: AbortSignal.timeout(5000),
  });
  await response.arrayBuffer();
  return response.status;
}

async function expectStatuses(token: string, expected: number, label: string, path = '/orders'): Promise<void> {
  for (const api of apis())
    expect({ label, api: api.name, status: await status(api, token, path) }).toEqual({
      label,
      api: api.name,
      status: expected,
    });
}

/** Polls GET /orders on `api` until it stops answering 200 or `forMs` passes. */
async function firstRefusal(api: Instance, token: string, started: number, forMs = POLL_FOR_MS) {
  const seen: number[] = [];
  for (;;) {
    const answer = await status(api, token);
    seen.push(answer);
    const elapsedMs = Date.now() - started;
    if (answer !== 200 || elapsedMs >= forMs)
      return { status: answer, elapsedMs, seen: seen.length > 6 ? seen.slice(-6) : seen };
    await sleep(25);
  }
}

/** Both APIs answer 401 for each token within DEADLINE_MS of `started` (when the revocation returned). */
async function expectRefusedByBoth(started: number, label: string, ...tokens: string[]): Promise<void> {
  const results = await Promise.all(
    tokens.flatMap((token, index) =>
      apis().map(async (api) => ({
        label: `${label} #${index + 1}`,
        api: api.name,
        ...(await firstRefusal(api, token, started)),
      })),
    ),
  );
  for (const result of results) {
    latencies.push({ path: label, api: result.api, ms: result.elapsedMs });
    expect({ ...result, refused: result.status === 401 && result.elapsedMs <= DEADLINE_MS }).toEqual({
      ...result,
      refused: true,
    });
  }
  for (const token of tokens) revoked.push({ label, token });
}

function bearer(token: string): Record<string, string> {
  return { Authorization: `Bearer ${token}` };
}

describe('the example APIs on the resource-server kit, behind two auth instances', () => {
  beforeAll(async () => {
    logDir = logDirectory(id);
    const databaseUrl = await createDatabase(databaseName);
    databaseCreated = true;
    const portA = await freePort();
    let portB = await freePort();
    while (portB === portA) portB = await freePort();
    authEnv = {
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      REDIS_URL,
      REDIS_PREFIX: redisPrefix,
      JWT_ISSUER: `http://127.0.0.1:${portA}`,
      ARGON2_MEMORY_KIB: '1024',
      ARGON2_ITERATIONS: '1',
      REFRESH_REUSE_GRACE: '0',
      LOGIN_MAX_FAILURES_PER_IP: '10000',
      LOGIN_MAX_PER_IP: '10000',
      REGISTER_MAX_PER_IP: '10000',
      MAX_SESSIONS_PER_USER: String(MAX_SESSIONS_PER_USER),
      LOG_LEVEL: 'warn',
    };
    try {
      a = await startInstance('A', portA, authEnv, logDir);
      b = await startInstance('B', portB, authEnv, logDir);
      const created = await runCli('clients', authEnv, logDir, 'create', `orders-api-${id}`);
      expect({ status: created.status, stderr: created.stderr }).toEqual({ status: 0, stderr: '' });
      client = {
        id: /^client_id=(.+)$/m.exec(created.stdout)![1],
        secret: /^client_secret=(.+)$/m.exec(created.stdout)![1],
      };
      expressProxy = await CountingProxy.start(A());
      nestProxy = await CountingProxy.start(B());
      proxies.push(expressProxy, nestProxy);
      // Express asks the auth server per token when stale; Nest answers 503.
      const expressPort = await freePort();
      let nestPort = await freePort();
      while (nestPort === expressPort) nestPort = await freePort();
      const started = await Promise.allSettled([
        startExampleApi('express-api', EXAMPLES.express, expressPort, apiEnv(expressProxy, 'introspect'), logDir),
        startExampleApi('nest-api', EXAMPLES.nest, nestPort, apiEnv(nestProxy, 'reject'), logDir),
      ]);
      // Both assigned before any failure is thrown, so afterAll stops whichever did start.
      [expressApi, nestApi] = started.map((result) => (result.status === 'fulfilled' ? result.value : undefined));
      for (const result of started) if (result.status === 'rejected') throw result.reason;
    } catch (error) {
      failed = true;
      throw error;
    }
  });

  afterAll(async () => {
    if (latencies.length) {
      const worst = new Map<string, number>();
      for (const { path, api, ms } of latencies)
        worst.set(`${path} → ${api}`, Math.max(ms, worst.get(`${path} → ${api}`) ?? 0));
      console.log(
        `refused after (ms, polling every 25 ms):\n${[...worst].map(([key, ms]) => `  ${key}: ${ms}`).join('\n')}`,
      );
    }
    await Promise.all([expressApi, nestApi, lateApi, a, b].filter((p): p is Instance => !!p).map(stopInstance));
    await Promise.all(proxies.map((proxy) => proxy.close()));
    if (databaseCreated) await dropDatabase(databaseName);
    await deleteRedisKeys(redisPrefix);
    if (failed) console.error(`resource-server suite logs kept in ${logDir}`);
    else if (logDir) removeLogDirectory(logDir);
  });

  function apiEnv(proxy: CountingProxy, whenStale: 'introspect' | 'reject'): Record<string, string> {
    return {
      AUTH_ISSUER: A(),
      AUTH_CLIENT_ID: client.id,
      AUTH_CLIENT_SECRET: client.secret,
      AUTH_SERVER_URL: proxy.url,
      WHEN_STALE: whenStale,
      MAX_STALENESS: String(MAX_STALENESS),
    };
  }

  scenario('both APIs: /health is public, /orders needs a token, /orders/export needs the admin role', async () => {
    const session = await signIn(A(), await newUser());
    for (const api of apis()) {
      expect({ api: api.name, health: await status(api, undefined, '/health') }).toEqual({
        api: api.name,
        health: 200,
      });
      expect({ api: api.name, anonymous: await status(api, undefined) }).toEqual({ api: api.name, anonymous: 401 });
      expect({ api: api.name, forged: await status(api, `${session.accessToken.slice(0, -4)}AAAA`) }).toEqual({
        api: api.name,
        forged: 401,
      });
    }
    await expectStatuses(session.accessToken, 200, 'a valid token');
    await expectStatuses(session.accessToken, 403, 'no admin role', '/orders/export');
    // Each API subscribed to the feed once, through its proxy.
    for (const proxy of proxies) expect(proxy.openTo(FEED)).toBe(1);
  });

  scenario('an example API with a wrong client secret stops at start-up, saying why', async () => {
    for (const [name, file] of [
      ['express-api (wrong secret)', EXAMPLES.express],
      ['nest-api (wrong secret)', EXAMPLES.nest],
    ] as const) {
      const env = { ...apiEnv(expressProxy, 'reject'), AUTH_CLIENT_SECRET: `${client.secret}x` };
      const started = startExampleApi(name, file, await freePort(), env, logDir);
      await expect(started).rejects.toThrow(/exited during start-up[\s\S]*client/i);
    }
  });

  scenario('logout: refused by both APIs within 1 s', async () => {
    const session = await signIn(A(), await newUser());
    await expectStatuses(session.accessToken, 200, 'before');
    const response = await logout(A(), session.refreshToken);
    expect(response.status).toBe(204);
    await expectRefusedByBoth(Date.now(), 'logout', session.accessToken);
  });

  scenario('logout-all (on B): every session of the user refused by both APIs within 1 s', async () => {
    const username = await newUser();
    const first = await signIn(A(), username);
    const second = await signIn(B(), username);
    await expectStatuses(first.accessToken, 200, 'before');
    const response = await fetch(`${B()}/auth/logout-all`, { method: 'POST', headers: bearer(second.accessToken) });
    expect(response.status).toBe(204);
    await expectRefusedByBoth(Date.now(), 'logout-all', first.accessToken, second.accessToken);
  });

  scenario('DELETE /auth/sessions/:id: that session refused by both APIs within 1 s, the caller kept', async () => {
    const username = await newUser();
    const victim = await signIn(A(), username);
    const caller = await signIn(A(), username);
    await expectStatuses(victim.accessToken, 200, 'before');
    const response = await deleteSession(B(), caller.accessToken, victim.sid);
    expect(response.status).toBe(204);
    await expectRefusedByBoth(Date.now(), 'DELETE /auth/sessions/:id', victim.accessToken);
    await expectStatuses(caller.accessToken, 200, 'the caller');
  });

  scenario('refresh-token reuse: the whole session refused by both APIs within 1 s', async () => {
    const session = await signIn(A(), await newUser());
    const rotated = await refresh(A(), session.refreshToken);
    expect(rotated.status).toBe(200);
    await expectStatuses(rotated.accessToken!, 200, 'after rotation');
    const replay = await refresh(B(), session.refreshToken);
    expect(replay.status).toBe(401);
    await expectRefusedByBoth(Date.now(), 'reuse', session.accessToken, rotated.accessToken!);
  });

  scenario('POST /auth/revoke (RFC 7009): refused by both APIs within 1 s', async () => {
    const session = await signIn(A(), await newUser());
    await expectStatuses(session.accessToken, 200, 'before');
    const response = await fetch(`${A()}/auth/revoke`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: session.refreshToken }).toString(),
    });
    expect(response.status).toBe(200);
    await expectRefusedByBoth(Date.now(), '/auth/revoke', session.accessToken);
  });

  scenario('password change: the other sessions refused by both APIs within 1 s, the changing one kept', async () => {
    const username = await newUser();
    const other = await signIn(B(), username);
    const changing = await signIn(A(), username);
    await expectStatuses(other.accessToken, 200, 'before');
    const response = await fetch(`${A()}/auth/password`, {
      method: 'POST',
      headers: { ...bearer(changing.accessToken), 'Content-Type': 'application/json' },
      body: JSON.stringify({ currentPassword: PASSWORD, newPassword: `${PASSWORD} 2` }),
    });
    expect(response.status).toBe(204);
    await expectRefusedByBoth(Date.now(), 'password change', other.accessToken);
    await expectStatuses(changing.accessToken, 200, 'the changing session');
  });

  scenario(
    `MAX_SESSIONS_PER_USER (${MAX_SESSIONS_PER_USER}) eviction: the evicted session refused by both APIs within 1 s`,
    async () => {
      const username = await newUser();
      const sessions: Session[] = [];
      for (let i = 0; i < MAX_SESSIONS_PER_USER; i++) sessions.push(await signIn(A(), username));
      await expectStatuses(sessions[0].accessToken, 200, 'before');
      // The least recently used session (the first: none was used at the auth server) makes room.
      await signIn(B(), username);
      await expectRefusedByBoth(Date.now(), 'eviction', sessions[0].accessToken);
      await expectStatuses(sessions[1].accessToken, 200, 'the others');
    },
  );

  scenario(
    'role change by `npm run users -- grant`: the old tokens refused by both APIs within 1 s; the new one is admin at both',
    async () => {
      const username = await newUser();
      const session = await signIn(A(), username);
      await expectStatuses(session.accessToken, 403, 'not admin yet', '/orders/export');
      const granted = await runCli('users', authEnv, logDir, 'grant', username, 'admin');
      expect({ status: granted.status, stderr: granted.stderr }).toEqual({ status: 0, stderr: '' });
      await expectRefusedByBoth(Date.now(), 'role change', session.accessToken);
      const next = await refresh(B(), session.refreshToken);
      expect(next.status).toBe(200);
      await expectStatuses(next.accessToken!, 200, 'admin now', '/orders/export');
    },
  );

  scenario('disable by `npm run users -- disable`: refused by both APIs within 1 s', async () => {
    const username = await newUser();
    const session = await signIn(B(), username);
    await expectStatuses(session.accessToken, 200, 'before');
    const disabled = await runCli('users', authEnv, logDir, 'disable', username);
    expect({ status: disabled.status, stderr: disabled.stderr }).toEqual({ status: 0, stderr: '' });
    await expectRefusedByBoth(Date.now(), 'disable', session.accessToken);
  });

  scenario(
    'the admin API (session revoke, all sessions, roles, disable): refused by both APIs within 1 s',
    async () => {
      const operator = await newUser();
      const granted = await runCli('users', authEnv, logDir, 'grant', operator, 'admin');
      expect({ status: granted.status, stderr: granted.stderr }).toEqual({ status: 0, stderr: '' });
      // The grant cut off tokens issued before the next whole second; a login waits that out.
      const admin = (await signIn(B(), operator)).accessToken;
      const asAdmin = (method: string, path: string, body?: unknown) =>
        fetch(`${B()}${path}`, {
          method,
          headers: { ...bearer(admin), ...(body ? { 'Content-Type': 'application/json' } : {}) },
          body: body ? JSON.stringify(body) : undefined,
        });

      const one = await signIn(A(), await newUser());
      await expectStatuses(one.accessToken, 200, 'before');
      expect((await asAdmin('DELETE', `/admin/sessions/${one.sid}`)).status).toBe(204);
      await expectRefusedByBoth(Date.now(), 'DELETE /admin/sessions/:id', one.accessToken);

      const all = await signIn(A(), await newUser());
      const userId = jwtParts(all.accessToken).payload.sub as string;
      expect((await asAdmin('DELETE', `/admin/users/${userId}/sessions`)).status).toBe(204);
      await expectRefusedByBoth(Date.now(), 'DELETE /admin/users/:id/sessions', all.accessToken);

      for (const [label, change] of [
        ['PATCH /admin/users/:id {roles}', { roles: ['auditor'] }],
        ['PATCH /admin/users/:id {disabled}', { disabled: true }],
      ] as const) {
        const session = await signIn(A(), await newUser());
        const sub = jwtParts(session.accessToken).payload.sub as string;
        await expectStatuses(session.accessToken, 200, `${label}: before`);
        expect((await asAdmin('PATCH', `/admin/users/${sub}`, change)).status).toBe(200);
        await expectRefusedByBoth(Date.now(), label, session.accessToken);
      }
    },
  );

  scenario(
    'no request reaches the auth server per API request: 200 requests to each API, only feed/JWKS traffic',
    async () => {
      const valid = await Promise.all([signIn(A(), await newUser()), signIn(B(), await newUser())]);
      const tokens = [...valid.map((s) => s.accessToken), ...revoked.slice(0, 6).map((r) => r.token), undefined];
      const before = proxies.map((proxy) => proxy.snapshot());
      const answers: number[] = [];
      for (const api of apis()) {
        for (let batch = 0; batch < 10; batch++) {
          answers.push(
            ...(await Promise.all(
              Array.from({ length: 20 }, (_, i) => status(api, tokens[(batch * 20 + i) % tokens.length])),
            )),
          );
        }
      }
      expect(answers.length).toBe(400);
      expect(new Set(answers)).toEqual(new Set([200, 401]));
      proxies.forEach((proxy, index) => {
        const delta = proxy.since(before[index]);
        const other = Object.keys(delta).filter((path) => path !== FEED && path !== JWKS);
        expect({ api: apis()[index].name, other }).toEqual({ api: apis()[index].name, other: [] });
        // At most a reconnection or a key reload: nothing that grows with the requests.
        expect({ api: apis()[index].name, delta, small: (delta[FEED] ?? 0) + (delta[JWKS] ?? 0) <= 2 }).toEqual({
          api: apis()[index].name,
          delta,
          small: true,
        });
      });
    },
  );

  scenario('an API started after the revocations refuses every revoked token from its first request', async () => {
    const valid = await signIn(A(), await newUser());
    const proxy = await CountingProxy.start(A());
    proxies.push(proxy);
    // 'reject': a stale or unsure kit would answer 503, so each 401 is the kit's own knowledge.
    lateApi = await startExampleApi(
      'late-express-api',
      EXAMPLES.express,
      await freePort(),
      apiEnv(proxy, 'reject'),
      logDir,
    );
    const answers = await Promise.all(
      revoked.map(async (r) => ({ label: r.label, status: await status(lateApi!, r.token) })),
    );
    expect(answers).toEqual(revoked.map((r) => ({ label: r.label, status: 401 })));
    expect(await status(lateApi, valid.accessToken)).toBe(200);
    expect(proxy.snapshot()[INTROSPECT]).toBeUndefined();
    await stopInstance(lateApi);
  });

  scenario(
    'feed silent for longer than maxStaleness: Express introspects per token, Nest answers 503; both catch up on resume',
    async () => {
      const username = await newUser();
      const valid = await signIn(A(), username);
      const victim = await signIn(A(), username);
      await expectStatuses(victim.accessToken, 200, 'before');
      // Express loses the feed only (introspection still passes); Nest loses the auth server entirely.
      expressProxy.block(FEED);
      nestProxy.pause();
      expect((await logout(A(), victim.refreshToken)).status).toBe(204);
      await sleep(STALE_MS);

      const before = expressProxy.snapshot();
      expect(await status(expressApi!, valid.accessToken)).toBe(200);
      expect(await status(expressApi!, victim.accessToken)).toBe(401);
      expect(expressProxy.since(before)[INTROSPECT]).toBe(2);
      expect(await status(nestApi!, valid.accessToken)).toBe(503);
      expect(await status(nestApi!, victim.accessToken)).toBe(503);

      // Back on the feed: each catches up from its cursor, so the logout made meanwhile is known.
      const heard = expressProxy.chunksFrom(FEED);
      expressProxy.resume();
      nestProxy.resume();
      const resumed = Date.now();
      const nest = await pollUntil(() => status(nestApi!, valid.accessToken), 200, 5000);
      expect({ nest: nest.status }).toEqual({ nest: 200 });
      expect(await status(nestApi!, victim.accessToken)).toBe(401);
      await untilFeedHeard(expressProxy, heard);
      const quiet = expressProxy.snapshot();
      expect(await status(expressApi!, victim.accessToken)).toBe(401);
      expect(await status(expressApi!, valid.accessToken)).toBe(200);
      expect(expressProxy.since(quiet)[INTROSPECT]).toBeUndefined();
      console.log(
        `feed resumed: Nest fresh again ${nest.elapsedMs} ms after the proxy let it through (from ${resumed})`,
      );
    },
  );

  scenario(
    'both auth instances stopped: 503 from both APIs once stale; a disable made meanwhile is refused after restart',
    async () => {
      const username = await newUser();
      const victim = await signIn(A(), username);
      const valid = await signIn(B(), await newUser());
      await expectStatuses(victim.accessToken, 200, 'before');
      await Promise.all([stopInstance(a!), stopInstance(b!)]);
      const heard = expressProxy.chunksFrom(FEED);
      await sleep(STALE_MS);
      // Express would introspect, but the auth server is down: it cannot vouch for the token.
      await expectStatuses(valid.accessToken, 503, 'auth down, stale');
      // The CLI needs only the database: the cut-off is persisted for the feed to deliver later.
      const disabled = await runCli('users', authEnv, logDir, 'disable', username);
      expect({ status: disabled.status }).toEqual({ status: 0 });

      a = await startInstance('A', a!.port, authEnv, logDir);
      b = await startInstance('B', b!.port, authEnv, logDir);
      const restarted = Date.now();
      const [express, nest] = await Promise.all(
        apis().map((api) => pollUntil(() => status(api, valid.accessToken), 200, 8000)),
      );
      expect({ express: express.status, nest: nest.status }).toEqual({ express: 200, nest: 200 });
      // Nest ('reject') answers 200 only once fresh, i.e. caught up: the disable made while nobody
      // listened is already applied. Express answers by introspection as soon as A is up; once its
      // stream is back it must refuse from its own list, without asking.
      expect(await status(nestApi!, victim.accessToken)).toBe(401);
      await untilFeedHeard(expressProxy, heard);
      const quiet = expressProxy.snapshot();
      expect(await status(expressApi!, victim.accessToken)).toBe(401);
      expect(await status(expressApi!, valid.accessToken)).toBe(200);
      expect(expressProxy.since(quiet)[INTROSPECT]).toBeUndefined();
      console.log(
        `after restart: Nest fresh again ${nest.elapsedMs} ms after both instances were healthy (${restarted})`,
      );
    },
  );
});

/** Calls `probe` every 50 ms until it returns `want` or `forMs` passes. */
/**
 * Waits until the API's feed stream is open again and has carried bytes since `heard` (chunks
 * counted at the proxy), then a little longer for the API to read them. An open stream alone is
 * not enough: its first bytes (the catch-up) may still be on their way.
 */
async function untilFeedHeard(proxy: CountingProxy, heard: number): Promise<void> {
  const back = await pollUntil(async () => proxy.openTo(FEED) === 1 && proxy.chunksFrom(FEED) > heard, true, 5000);
  expect({ feedBack: back.status }).toEqual({ feedBack: true });
  await sleep(200);
}

async function pollUntil<T>(
  probe: () => Promise<T>,
  want: T,
  forMs: number,
): Promise<{ status: T; elapsedMs: number }> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    const elapsedMs = Date.now() - started;
    if (value === want || elapsedMs >= forMs) return { status: value, elapsedMs };
    await sleep(50);
  }
}
