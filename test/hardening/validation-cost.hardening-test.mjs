// Issue 10, item 2: what a client without an account can make one request cost. Bar: over 50
// requests, the worst body any route takes under its size limit costs at most 5x the main-thread
// CPU of a small invalid body. Measured on the main thread only (/proc/<pid>/task/<pid>/schedstat):
// that is what stalls every other request; argon2 runs on the thread pool.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { keepAliveAgent, request } from '../../bench/lib/http.mjs';
import { startHardeningApp } from './app.mjs';

const REQUESTS = 50;
const WARMUP = 15;
const MAX_RATIO = 5;
/** The limit of every route that reads a body, or that takes none (@AcceptsBody, @IgnoresBody). */
const SMALL_LIMIT = 4 * 1024;
const GLOBAL_LIMIT = 100 * 1024;
/** Room for the bytes a builder adds after checking the size. */
const SLACK = 40;

/** Repeats `part(i)` between `head` and `tail` while the whole stays under `limit` bytes. */
function fill(limit, head, part, tail, separator = ',') {
  const parts = [];
  let size = Buffer.byteLength(head) + Buffer.byteLength(tail);
  for (let i = 0; ; i += 1) {
    const next = part(i);
    const added = Buffer.byteLength(next) + (parts.length ? separator.length : 0);
    if (size + added > limit - SLACK) break;
    parts.push(next);
    size += added;
  }
  return `${head}${parts.join(separator)}${tail}`;
}

const json = (body) => ({ type: 'application/json', body });
const form = (body) => ({ type: 'application/x-www-form-urlencoded', body });

/** Arrays nested to depth 15 (the limit is 16), then as many items as fit. */
const deepWide = (limit, head, tail) => fill(limit, `${head}${'['.repeat(14)}`, () => '0', `${']'.repeat(14)}${tail}`);

/** The worst bodies we could construct, per route, each just under that route's limit. */
function candidates() {
  const C = SMALL_LIMIT;
  const creds = '"username":"alice","password":"correct horse battery"';
  const list = [];
  for (const path of ['/auth/register', '/auth/login']) {
    list.push(
      [`${path}: unknown fields after valid ones`, path, json(fill(C, `{${creds},`, (i) => `"k${i}":0`, '}'))],
      [
        `${path}: unknown fields with long names`,
        path,
        json(fill(C, `{${creds},`, (i) => `"${String(i).padStart(200, 'k')}":0`, '}')),
      ],
      [`${path}: one long username`, path, json(fill(C, '{"password":"x","username":"', () => 'a', '"}', ''))],
      [`${path}: one long password`, path, json(fill(C, '{"username":"alice","password":"', () => 'p', '"}', ''))],
      [
        `${path}: a long string of escapes`,
        path,
        json(fill(C, '{"password":"x","username":"', () => '\\u0000', '"}', '')),
      ],
      [`${path}: many array items`, path, json(fill(C, '{"password":"x","username":[', () => '0', ']}'))],
      [`${path}: many empty objects`, path, json(fill(C, '{"password":"x","username":[', () => '{}', ']}'))],
      [`${path}: nested to the depth limit, then wide`, path, json(deepWide(C, '{"password":"x","username":', '}'))],
      [`${path}: a top-level array`, path, json(fill(C, '[', () => '{}', ']'))],
    );
  }
  list.push(
    [
      '/auth/register: a valid new account',
      '/auth/register',
      (i) => json(JSON.stringify({ username: `costuser${i}_${Date.now()}`, password: 'correct horse battery' })),
    ],
    [
      '/auth/login: well-formed, unknown user',
      '/auth/login',
      json(JSON.stringify({ username: 'nobody-here', password: 'wrong password' })),
    ],
  );
  for (const path of ['/auth/token', '/auth/revoke']) {
    list.push(
      [`${path}: form, many unknown fields`, path, form(fill(C, 'grant_type=password&', (i) => `k${i}=`, '', '&'))],
      [`${path}: form, one field repeated`, path, form(fill(C, '', () => 'token=a', '', '&'))],
      [
        `${path}: form, percent-encoded bytes`,
        path,
        form(fill(C, 'grant_type=password&username=', () => '%00', '', '')),
      ],
      [`${path}: JSON, many unknown fields`, path, json(fill(C, '{"grant_type":"password",', (i) => `"k${i}":0`, '}'))],
      [`${path}: JSON, nested to the depth limit, then wide`, path, json(deepWide(C, '{"grant_type":', '}'))],
      [`${path}: JSON, many empty objects`, path, json(fill(C, '{"token":[', () => '{}', ']}'))],
    );
  }
  list.push([
    '/auth/token: password grant, unknown user',
    '/auth/token',
    form('grant_type=password&username=nobody-here&password=wrong'),
  ]);
  // These take no body, but parse what they are sent (before the Bearer guard runs, for the last two).
  for (const path of [
    '/auth/refresh',
    '/auth/logout',
    '/auth/logout-all',
    'DELETE /auth/sessions/5d9e5f4c-0000-4000-8000-000000000000',
  ]) {
    list.push(
      [`${path}: many array items`, path, json(fill(C, '[', () => '0', ']'))],
      [`${path}: many empty objects`, path, json(fill(C, '[', () => '{}', ']'))],
      [`${path}: many fields`, path, json(fill(C, '{', (i) => `"k${i}":0`, '}'))],
      [`${path}: nested to the depth limit, then wide`, path, json(deepWide(C, '', ''))],
    );
  }
  list.push(
    ['/auth/password (Bearer, no token): many fields', '/auth/password', json(fill(C, '{', (i) => `"k${i}":0`, '}'))],
    // Unmatched requests are answered before their body is read, whatever its size.
    ['an unknown path: many array items', '/no/such/route', json(fill(GLOBAL_LIMIT, '[', () => '0', ']'))],
    ['a wrong method: many array items', 'PUT /auth/login', json(fill(GLOBAL_LIMIT, '[', () => '0', ']'))],
  );
  return list;
}

let app;
let agent;

before(async () => {
  // Throttles off: a 429 from the register or login throttle would answer before validation runs,
  // and validation is what this measures.
  app = await startHardeningApp({
    LOG_LEVEL: 'error',
    REGISTER_MAX_PER_IP: '1000000',
    LOGIN_MAX_FAILURES_PER_IP: '1000000',
    LOGIN_MAX_FAILURES_PER_USER: '1000000',
    // The 429s it still meets are sent at once: a held refusal costs a timer, not CPU, and 50
    // sequential requests held a second each would only make the suite slow.
    THROTTLED_REPLY_DELAY: '0',
  });
  agent = keepAliveAgent(1);
});

after(async () => {
  agent?.destroy();
  await app?.cleanup();
});

/**
 * Main-thread CPU per request, in ms, over REQUESTS sequential requests (after WARMUP unmeasured
 * ones). `target` is a path (POST) or "METHOD /path".
 */
async function costPerRequest(target, body) {
  const [method, path] = target.includes(' ') ? target.split(' ') : ['POST', target];
  const send = async (i) => {
    const { type, body: payload } = typeof body === 'function' ? body(i) : body;
    return request(app.baseUrl, { method, path, agent, headers: { 'content-type': type }, body: payload });
  };
  for (let i = 0; i < WARMUP; i += 1) await send(-1 - i);
  const statuses = new Set();
  const before = app.mainThreadCpuMs();
  for (let i = 0; i < REQUESTS; i += 1) statuses.add((await send(i)).status);
  const ms = (app.mainThreadCpuMs() - before) / REQUESTS;
  return { ms, statuses: [...statuses].sort() };
}

test(`no body under its route's limit costs more than ${MAX_RATIO}x a small invalid one (main-thread CPU, ${REQUESTS} requests)`, async (t) => {
  // A small invalid body: the reference. Measured at the start, the middle and the end; the
  // median is the baseline, so that a burst of noise on a shared machine does not set it.
  const small = json('{}');
  await costPerRequest('/auth/register', small);
  const baselines = [await costPerRequest('/auth/register', small)];
  const rows = [];
  const list = candidates();
  for (const [index, [label, target, body]] of list.entries()) {
    const sample = typeof body === 'function' ? body(0) : body;
    const bytes = Buffer.byteLength(sample.body);
    const limit = /no\/such|PUT /.test(target) ? GLOBAL_LIMIT : SMALL_LIMIT;
    assert.ok(bytes <= limit, `${label}: ${bytes} bytes is over the ${limit}-byte limit`);
    const { ms, statuses } = await costPerRequest(target, body);
    rows.push({ label, bytes, ms, statuses });
    if (index === Math.floor(list.length / 2)) baselines.push(await costPerRequest('/auth/register', small));
  }
  baselines.push(await costPerRequest('/auth/register', small));
  const baseline = baselines.map((b) => b.ms).sort((a, b) => a - b)[1];

  t.diagnostic(
    `baseline: {} on /auth/register, ${baseline.toFixed(3)} ms/request (${baselines.map((b) => b.ms.toFixed(3)).join(', ')})`,
  );
  for (const row of rows.sort((a, b) => b.ms - a.ms)) {
    t.diagnostic(
      `${(row.ms / baseline).toFixed(2)}x  ${row.ms.toFixed(3)} ms  ${row.bytes} B  ${row.statuses.join('/')}  ${row.label}`,
    );
  }
  const worst = rows[0];
  // No request may fail the server either.
  for (const row of rows)
    assert.ok(
      row.statuses.every((s) => s < 500),
      `${row.label} answered ${row.statuses.join('/')}`,
    );
  assert.ok(
    worst.ms <= MAX_RATIO * baseline,
    `${worst.label}: ${worst.ms.toFixed(3)} ms/request, ${(worst.ms / baseline).toFixed(2)}x the ${baseline.toFixed(3)} ms of a small invalid body`,
  );
});
