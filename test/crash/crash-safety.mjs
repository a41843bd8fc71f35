// Crash safety of refresh-token rotation: kill -9 the app in the middle of a refresh storm, start
// it again on the same SQLite file, and check what must hold after a crash.
//
//   npm run test:crash            (builds first)   or   node test/crash/crash-safety.mjs
//   CRASH_ROUNDS=3                storm → kill -9 → restart → checks, this many times on one file
//   CRASH_KILL_AFTER_MS=1500      when to kill, from the start of the storm (default: random 1000–2000;
//                                 later only if some chain has not rotated once yet, at most 10 s)
//   CRASH_KILL_MODE=alternate     random: kill at that moment, whatever the app is doing;
//                                 after-commit: from that moment on, watch the file and kill the
//                                 instant a rotation commits (before its answer can go out), which
//                                 makes case (ii) below happen nearly every time; alternate
//                                 (default): random in odd rounds, after-commit in even ones
//   CRASH_KEEP=1                  keep the temp dir (database, app.log) also when everything passed
//
// Prints one line per check and a closing "crash-safety: N passed, N failed"; exit code 1 on any
// failure. The temp dir is kept (and printed) when something failed.
//
// What a crash can and cannot do here
// -----------------------------------
// SQLite runs in WAL mode with synchronous=NORMAL (src/database/data-source-options.ts). A
// commit is appended to the WAL with write(2) before the statement returns; synchronous=NORMAL
// only skips the fsync, which matters for power loss, not for a killed process: the kernel still
// holds the written pages. So after kill -9:
//   - every committed transaction is on disk, and the file is consistent (integrity_check = ok);
//   - the app answers only after its INSERT committed, so every token a client RECEIVED is on
//     disk, linked to the token it was derived from (nothing acknowledged is lost);
//   - a rotation is one INSERT of the child row; the unique index on parent_id makes it the
//     compare-and-set. Half a rotation cannot exist: either the child row is there or it is not.
// A client that had a refresh in flight when the process died does not know which happened:
//   (i)  the INSERT did not commit: its last received token is still the current one → 200;
//   (ii) the INSERT committed but the answer never arrived: its last received token now has a
//        child the client never saw. Re-presenting the parent is then exactly the "retry after a
//        lost response" that the grace window is for: inside REFRESH_REUSE_GRACE (counted from
//        the child's created_at) the server re-derives and returns that same child (200, same
//        token as on disk); after it, the server cannot tell the client from a thief and must
//        treat it as reuse: 401 and the session revoked. Both are correct; which one applies is
//        decided by the clock, and the test checks the one the clock dictates (see checkLastTokens).
// Each chain sends its next refresh only after the previous answer, so at most ONE rotation per
// chain can be unknown to the client, and nobody can have presented that unseen child: it must
// still be the session's current token.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { refreshViaCookie, refreshViaTokenEndpoint } from '../../bench/lib/auth-client.mjs';
import { keepAliveAgent, request } from '../../bench/lib/http.mjs';
import { login, register } from '../../bench/lib/phases.mjs';
import { killAllChildrenSync } from '../../bench/lib/proc.mjs';
import { startAppOnFile } from './app-process.mjs';
import { openReadOnly, tokenHash } from './db-inspect.mjs';

// ---------------------------------------------------------------- settings

const CHAINS = 20;
const GRACE_SECONDS = 2;
const GRACE_MS = GRACE_SECONDS * 1000;
const APP_ENV = {
  REFRESH_REUSE_GRACE: `${GRACE_SECONDS}s`,
  ARGON2_MEMORY_KIB: '1024',
  ARGON2_ITERATIONS: '1',
  LOG_LEVEL: 'warn',
};
const ROUNDS = positiveInt('CRASH_ROUNDS', 3);
const FIXED_KILL_AFTER_MS = process.env.CRASH_KILL_AFTER_MS ? positiveInt('CRASH_KILL_AFTER_MS', 1500) : undefined;
const KILL_MODE = process.env.CRASH_KILL_MODE || 'alternate';
if (!['random', 'after-commit', 'alternate'].includes(KILL_MODE)) {
  console.error(`CRASH_KILL_MODE must be random, after-commit or alternate, got "${KILL_MODE}"`);
  process.exit(2);
}
const KEEP = ['1', 'true', 'yes'].includes(String(process.env.CRASH_KEEP ?? '').toLowerCase());
const REQUEST_TIMEOUT_MS = 10_000;
/** Hard stop, so CI never hangs on this script whatever goes wrong. */
const OVERALL_TIMEOUT_MS = 150_000;
const USER = 'crash-user';

function positiveInt(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) {
    console.error(`${name} must be a positive integer, got "${raw}"`);
    process.exit(2);
  }
  return Number(raw);
}

// ---------------------------------------------------------------- bookkeeping

const dir = mkdtempSync(join(tmpdir(), 'auth-crash-'));
const dbFile = join(dir, 'auth.sqlite');
const outcomes = [];
/** Which crash states the rounds produced, over all rounds (the kill time decides). */
const coverage = { current: 0, graceReplay: 0, reuse: 0 };
let app;

process.on('exit', () => {
  killAllChildrenSync();
  if (!KEEP && outcomes.length && outcomes.every((o) => o.ok)) rmSync(dir, { recursive: true, force: true });
});
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
]) {
  process.on(signal, () => process.exit(code));
}
setTimeout(() => {
  console.error(`crash-safety: gave up after ${OVERALL_TIMEOUT_MS / 1000} s`);
  finish(`the whole run took longer than ${OVERALL_TIMEOUT_MS / 1000} s`);
}, OVERALL_TIMEOUT_MS).unref();

const say = (line) => console.log(line);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const short = (token) => `${token.slice(0, 8)}…`;

/** Records one check: passes when `problems` is empty. */
function record(name, problems, info = '') {
  const ok = problems.length === 0;
  outcomes.push({ name, ok, problems });
  say(`  ${ok ? '✔' : '✘'} ${name}${info ? ` — ${info}` : ''}`);
  for (const p of problems.slice(0, 12)) say(`      - ${p}`);
  if (problems.length > 12) say(`      - … and ${problems.length - 12} more`);
}

function finish(fatal) {
  if (fatal) outcomes.push({ name: 'run', ok: false, problems: [fatal] });
  const failed = outcomes.filter((o) => !o.ok);
  say('');
  if (failed.length) {
    say('FAILED:');
    for (const o of failed) say(`  - ${o.name}${o.problems[0] ? `: ${o.problems[0]}` : ''}`);
    say(`database and app.log kept in ${dir}`);
    if (app) say(`last app output:\n    ${app.lastOutput(10).join('\n    ')}`);
  } else if (KEEP) {
    say(`database and app.log kept in ${dir}`);
  }
  say(
    `covered: ${coverage.current} chains whose last token was current after the crash, ` +
      `${coverage.graceReplay + coverage.reuse} whose last rotation's answer was lost ` +
      `(${coverage.graceReplay} retried inside the grace window, ${coverage.reuse} after it)`,
  );
  say(`crash-safety: ${outcomes.length - failed.length} passed, ${failed.length} failed`);
  process.exit(failed.length ? 1 : 0);
}

// ---------------------------------------------------------------- the storm

/**
 * One refresh chain per session. `tokens` is everything the client received, in order, each with
 * the time it arrived (= when its predecessor became "rotated" as far as the client knows).
 * `inflight` is the refresh that was sent and not answered when the storm ended.
 */
function newChain(index, refreshToken) {
  return {
    index,
    via: index % 2 === 0 ? 'cookie' : 'token',
    tokens: [{ token: refreshToken, receivedAt: Date.now() }],
    inflight: null,
    failure: null,
  };
}

const last = (chain) => chain.tokens[chain.tokens.length - 1].token;

/**
 * Sends SIGKILL the moment one of the refreshes in flight commits its rotation: polls the file
 * (read-only, in tight synchronous bursts, so nothing here runs in between) for an in-flight
 * token that gains a child. The app still has to touch the session, write the audit row, sign
 * the access token and answer, so the answer is almost always lost: case (ii). Between bursts
 * it yields, so answers come in and the chains send their next refresh. Returns true when it
 * killed, false when nothing committed before `deadline`.
 */
async function killRightAfterACommit(chains, deadline) {
  const db = openReadOnly(dbFile);
  try {
    while (performance.now() < deadline) {
      const watched = chains.filter((c) => c.inflight).map((c) => tokenHash(c.inflight.token));
      if (watched.length) {
        const already = new Set(db.rotatedAmong(watched));
        const burstEnd = performance.now() + 30;
        while (performance.now() < burstEnd) {
          if (db.rotatedAmong(watched).some((h) => !already.has(h))) {
            app.child.kill('SIGKILL');
            return true;
          }
        }
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    return false;
  } finally {
    db.close();
  }
}

/**
 * Runs every chain (half through /auth/refresh, half through /auth/token) until the app is
 * killed, `killAfterMs` after the start or (mode after-commit) right after the next commit from
 * then on. Returns what the kill looked like.
 */
async function stormAndKill(chains, killAfterMs, mode) {
  const agent = keepAliveAgent(chains.length);
  let killed = false;
  const run = async (chain) => {
    const step = chain.via === 'cookie' ? refreshViaCookie : refreshViaTokenEndpoint;
    while (!killed) {
      const token = last(chain);
      chain.inflight = { token, sentAt: Date.now() };
      let res;
      try {
        res = await step(app.baseUrl, token, { agent, timeoutMs: REQUEST_TIMEOUT_MS });
      } catch (error) {
        // After the kill this is the expected connection reset; the request stays "in flight":
        // the client cannot know whether the server committed the rotation.
        if (!killed) chain.failure = `request failed before the kill: ${error.message}`;
        return;
      }
      if (res.status === 200 && res.next) {
        chain.tokens.push({ token: res.next, receivedAt: Date.now() });
        chain.inflight = null;
        continue;
      }
      chain.inflight = null;
      chain.failure = `HTTP ${res.status}${res.status === 200 ? ' without a new refresh token' : ''}: ${res.body.slice(0, 160)}`;
      return;
    }
    chain.inflight = null; // stopped between requests: nothing in flight
  };
  const t0 = performance.now();
  const running = chains.map(run);
  await sleep(killAfterMs);
  // On a loaded machine, give every chain its first rotation before the kill (bounded), so the
  // checks below have a rotated token in each chain to work with.
  const patience = performance.now() + 10_000;
  while (chains.some((c) => c.tokens.length < 2 && !c.failure) && performance.now() < patience) await sleep(20);
  let busy = chains.filter((c) => c.inflight).length;
  const targeted = mode === 'after-commit' && (await killRightAfterACommit(chains, performance.now() + 3000));
  if (targeted) busy = chains.filter((c) => c.inflight).length;
  killed = true; // set before any chain runs again: the kill above was synchronous
  const killedAtMs = performance.now() - t0;
  const exit = await app.kill9(); // a no-op signal when already killed; waits for the exit
  await Promise.all(running);
  agent.destroy();
  return { killedAtMs, exit, busyAtKill: busy, targeted };
}

// ---------------------------------------------------------------- checks on the crashed file

/** (a) The file is sound, still in WAL mode, and no foreign key is broken. */
function checkFile(db, label) {
  const problems = [];
  const integrity = db.integrityCheck();
  if (integrity.length !== 1 || integrity[0] !== 'ok') problems.push(`integrity_check: ${integrity.join('; ')}`);
  const mode = db.journalMode();
  if (mode !== 'wal') problems.push(`journal_mode is ${mode}, expected wal`);
  const fk = db.foreignKeyViolations();
  if (fk.length) problems.push(`foreign_key_check: ${fk.length} violation(s), e.g. ${JSON.stringify(fk[0])}`);
  record(
    `(a) PRAGMA integrity_check = ok ${label}`,
    problems,
    `integrity_check=${integrity.join(',')}, journal_mode=${mode}`,
  );
}

/**
 * (b) Every session is revoked or has exactly one current refresh token (a token with no child).
 * A live session's tokens must form one chain: one root, one current token, parents in the same
 * session. Zero current tokens would strand the user; two would mean a rotation forked.
 */
function checkSessionShapes(db, label) {
  const problems = [];
  const shapes = db.sessionShapes();
  for (const s of shapes) {
    if (s.revoked_at !== null) continue;
    if (s.current_tokens !== 1)
      problems.push(`session ${s.id}: ${s.current_tokens} current tokens (of ${s.tokens}), not revoked`);
    if (s.roots !== 1) problems.push(`session ${s.id}: ${s.roots} root tokens, not revoked`);
  }
  for (const link of db.brokenParentLinks()) {
    problems.push(
      `token ${link.id} (session ${link.session_id}) has parent ${link.parent_id} in ${link.parent_session_id ?? 'no row'}`,
    );
  }
  const live = shapes.filter((s) => s.revoked_at === null).length;
  record(
    `(b) every session is revoked or has exactly one current token ${label}`,
    problems,
    `${shapes.length} sessions, ${live} live`,
  );
}

/**
 * Per chain, on the file as the crash left it: everything the client received is on disk and
 * linked in order; past the last received token there is at most one more rotation, only when
 * that token was in flight, and nothing after it. Sets chain.state for the checks after restart.
 */
function checkChains(db, chains, label) {
  const problems = [];
  for (const chain of chains) {
    const where = `chain ${chain.index}`;
    const rows = chain.tokens.map((t) => db.token(t.token));
    const missing = rows.findIndex((row) => !row);
    if (missing >= 0) {
      problems.push(
        `${where}: received token #${missing} (${short(chain.tokens[missing].token)}) is not in the database: an acknowledged rotation was lost`,
      );
      chain.state = { kind: 'broken' };
      continue;
    }
    const sessionId = rows[0].session_id;
    chain.sessionId = sessionId;
    if (rows[0].parent_id !== null) problems.push(`${where}: the login token has a parent`);
    for (let i = 1; i < rows.length; i++) {
      if (rows[i].session_id !== sessionId)
        problems.push(`${where}: token #${i} is in session ${rows[i].session_id}, not ${sessionId}`);
      if (rows[i].parent_id !== rows[i - 1].id)
        problems.push(`${where}: token #${i} is not the child of token #${i - 1}`);
    }
    const session = db.session(sessionId);
    if (!session) problems.push(`${where}: session ${sessionId} is missing`);
    else if (session.revoked_at !== null)
      problems.push(`${where}: session was revoked (${session.revoked_reason}) though nothing reused a token`);

    const lastRow = rows[rows.length - 1];
    const children = db.children(lastRow.id);
    if (children.length === 0) {
      chain.state = { kind: 'current' }; // case (i): the last received token is the current one
    } else if (children.length === 1) {
      // Case (ii): rotated by the refresh that was in flight; its answer never arrived.
      const [child] = children;
      chain.state = { kind: 'unseen-child', child };
      if (!chain.inflight || chain.inflight.token !== last(chain)) {
        problems.push(`${where}: the last received token has a child, but no refresh with it was in flight`);
      }
      if (chain.tokens.some((t) => tokenHash(t.token) === child.token_hash))
        problems.push(`${where}: the unseen child is a token the client has`);
      if (db.children(child.id).length) problems.push(`${where}: the child nobody received was itself rotated`);
      if (chain.inflight && child.created_at < chain.inflight.sentAt - 1000) {
        problems.push(
          `${where}: the unseen child was created ${chain.inflight.sentAt - child.created_at} ms before the refresh that made it was sent`,
        );
      }
    } else {
      problems.push(`${where}: the last received token has ${children.length} children (rotation forked)`);
      chain.state = { kind: 'broken' };
    }
    const expected = rows.length + children.length;
    const stored = db.tokensInSession(sessionId);
    if (stored !== expected)
      problems.push(
        `${where}: ${stored} tokens stored in the session, expected ${expected} (received ${rows.length} + unseen ${children.length})`,
      );
  }
  const count = (kind) => chains.filter((c) => c.state?.kind === kind).length;
  record(
    `durability: every received token is on disk, in order; at most the in-flight rotation is unseen ${label}`,
    problems,
    `${count('current')} chains current, ${count('unseen-child')} with an unseen child (answer lost in the crash)`,
  );
}

// ---------------------------------------------------------------- checks after the restart

/**
 * (d) Each chain's last received token after the restart. What must happen depends on the
 * crash state found on disk and, for an unseen child, on the clock: the server is inside the
 * grace window iff (its now − child.created_at) ≤ grace, and its `now` lies between our send
 * and receive times. So: received − created ≤ grace ⇒ must be the grace replay (200, the very
 * token on disk); sent − created > grace ⇒ must be reuse (401, session revoked); in between
 * either is right, but it must be one of the two, consistently.
 * Unseen children are presented first: their grace window is running.
 */
async function checkLastTokens(db, chains, label) {
  const problems = [];
  const tally = { current: 0, graceReplay: 0, reuse: 0, continued: 0 };
  const ordered = [
    ...chains.filter((c) => c.state.kind === 'unseen-child'),
    ...chains.filter((c) => c.state.kind === 'current'),
  ];
  for (const chain of ordered) {
    const where = `chain ${chain.index}`;
    const token = last(chain);
    const sentAt = Date.now();
    let res;
    try {
      res = await refreshViaCookie(app.baseUrl, token, { timeoutMs: REQUEST_TIMEOUT_MS });
    } catch (error) {
      problems.push(`${where}: ${error.message}`);
      continue;
    }
    const receivedAt = Date.now();
    if (chain.state.kind === 'current') {
      if (res.status !== 200 || !res.next) {
        problems.push(
          `${where}: last received token (current on disk) got HTTP ${res.status}, expected 200: ${res.body.slice(0, 120)}`,
        );
        continue;
      }
      const row = db.token(res.next);
      const parent = db.token(token);
      if (!row || row.parent_id !== parent?.id)
        problems.push(`${where}: the new token is not stored as the child of the presented one`);
      tally.current++;
      chain.newest = res.next;
      continue;
    }
    const { child } = chain.state;
    const mustBeGrace = receivedAt - child.created_at <= GRACE_MS;
    const mustBeReuse = sentAt - child.created_at > GRACE_MS;
    const age = `${sentAt - child.created_at}–${receivedAt - child.created_at} ms after the child was created`;
    if (res.status === 200) {
      if (mustBeReuse)
        problems.push(`${where}: parent of an unseen child accepted ${age}, past the ${GRACE_MS} ms grace window`);
      if (!res.next || tokenHash(res.next) !== child.token_hash)
        problems.push(`${where}: grace replay returned a token other than the child on disk`);
      tally.graceReplay++;
      chain.newest = res.next;
    } else if (res.status === 401) {
      if (mustBeGrace) problems.push(`${where}: retry after the lost answer refused ${age}, inside the grace window`);
      const session = db.session(chain.sessionId);
      if (session?.revoked_reason !== 'refresh_token_reuse') {
        problems.push(
          `${where}: reuse past grace answered 401 but the session is ${session?.revoked_at === null ? 'not revoked' : `revoked for ${session?.revoked_reason}`}`,
        );
      }
      tally.reuse++;
    } else {
      problems.push(
        `${where}: HTTP ${res.status} for the parent of an unseen child, expected 200 (grace) or 401 (reuse): ${res.body.slice(0, 120)}`,
      );
    }
  }
  // The chains that survived go on rotating on the restarted process.
  for (const chain of chains.filter((c) => c.newest)) {
    const res = await refreshViaCookie(app.baseUrl, chain.newest, { timeoutMs: REQUEST_TIMEOUT_MS }).catch((error) => ({
      status: 0,
      body: error.message,
    }));
    if (res.status === 200 && res.next) {
      chain.newest = res.next;
      tally.continued++;
    } else {
      problems.push(
        `chain ${chain.index}: the next refresh after the restart got HTTP ${res.status}: ${String(res.body).slice(0, 120)}`,
      );
    }
  }
  coverage.current += tally.current;
  coverage.graceReplay += tally.graceReplay;
  coverage.reuse += tally.reuse;
  record(
    `(d) last received token after restart: 200, or explained by the crash ${label}`,
    problems,
    `${tally.current} current → 200, ${tally.graceReplay} grace replays of the unseen child, ${tally.reuse} past grace → reuse; ${tally.continued} chains rotated on after`,
  );
}

/**
 * (c) A token rotated more than the grace window ago is refused (401) and, being reuse, revokes
 * its session; after that the chain's newest token is refused too. The login token of each chain
 * is used: its rotation time is when the client received its successor (the server rotated it
 * at or before that moment, so waiting from there is on the safe side).
 */
async function checkOldTokens(db, chains, label) {
  const problems = [];
  const tested = chains.filter((c) => c.sessionId && c.tokens.length >= 2);
  const rotatedAt = Math.max(...tested.map((c) => c.tokens[1].receivedAt));
  const wait = rotatedAt + GRACE_MS + 250 - Date.now();
  if (wait > 0) await sleep(wait);
  for (const chain of tested) {
    const where = `chain ${chain.index}`;
    const old = chain.tokens[0].token;
    const age = Date.now() - chain.tokens[1].receivedAt;
    const res = await refreshViaCookie(app.baseUrl, old, { timeoutMs: REQUEST_TIMEOUT_MS }).catch((error) => ({
      status: 0,
      body: error.message,
    }));
    if (res.status !== 401) {
      problems.push(
        `${where}: token rotated ${age} ms ago got HTTP ${res.status}, expected 401: ${String(res.body).slice(0, 120)}`,
      );
      continue;
    }
    const session = db.session(chain.sessionId);
    if (session?.revoked_at === null || session?.revoked_reason !== 'refresh_token_reuse') {
      problems.push(
        `${where}: after reuse the session is ${session?.revoked_at === null ? 'still live' : `revoked for ${session?.revoked_reason}`}, expected refresh_token_reuse`,
      );
    }
    if (db.reuseAuditEvents(chain.sessionId) < 1)
      problems.push(`${where}: no refresh_token_reuse audit event for the session`);
    const newest = chain.newest ?? last(chain);
    const after = await refreshViaCookie(app.baseUrl, newest, { timeoutMs: REQUEST_TIMEOUT_MS }).catch((error) => ({
      status: 0,
      body: error.message,
    }));
    if (after.status !== 401)
      problems.push(`${where}: newest token of the revoked session got HTTP ${after.status}, expected 401`);
  }
  if (tested.length < chains.length / 2)
    problems.push(`only ${tested.length} of ${chains.length} chains had rotated at all before the kill`);
  record(
    `(c) token rotated > ${GRACE_SECONDS} s ago → 401 and its session revoked as reuse ${label}`,
    problems,
    `${tested.length} chains`,
  );
}

// ---------------------------------------------------------------- main

async function round(r) {
  const label = `[round ${r}/${ROUNDS}]`;
  const killAfterMs = FIXED_KILL_AFTER_MS ?? 1000 + Math.floor(Math.random() * 1000);
  const mode = KILL_MODE === 'alternate' ? (r % 2 === 1 ? 'random' : 'after-commit') : KILL_MODE;
  const tokens = [];
  for (let i = 0; i < CHAINS; i++) tokens.push((await login(app.baseUrl, USER)).refreshToken);
  const chains = tokens.map((token, i) => newChain(i, token));

  const storm = await stormAndKill(chains, killAfterMs, mode);
  const rotations = chains.reduce((n, c) => n + c.tokens.length - 1, 0);
  const inflight = chains.filter((c) => c.inflight).length;
  say(
    `${label} ${CHAINS} chains refreshed for ${Math.round(storm.killedAtMs)} ms, then kill -9 (pid ${app.pid}, ` +
      `${storm.targeted ? 'right after a rotation committed' : mode === 'after-commit' ? 'no commit seen in 3 s: at a random moment' : 'at a random moment'}): ` +
      `${rotations} rotations acknowledged, ${inflight} refreshes never answered`,
  );
  const stormProblems = chains.filter((c) => c.failure).map((c) => `chain ${c.index}: ${c.failure}`);
  if (storm.exit.signal !== 'SIGKILL')
    stormProblems.push(`app exit was ${JSON.stringify(storm.exit)}, not SIGKILL: it was not running at the kill`);
  const idle = chains.filter((c) => c.tokens.length < 2).length;
  if (idle) stormProblems.push(`${idle} chains had not rotated once before the kill`);
  if (storm.busyAtKill === 0) stormProblems.push('no refresh was in flight at the kill');
  record(
    `storm: kill -9 landed mid-storm with no refresh failing before it ${label}`,
    stormProblems,
    `${storm.busyAtKill} refreshes in flight when the signal was sent`,
  );
  app = undefined;

  // The app is gone: look at the file exactly as the crash left it.
  let db = openReadOnly(dbFile);
  try {
    checkFile(db, `after kill -9 ${label}`);
    checkSessionShapes(db, `after kill -9 ${label}`);
    checkChains(db, chains, label);
  } finally {
    db.close();
  }
  const usable = chains.filter((c) => c.state && c.state.kind !== 'broken');

  app = await startAppOnFile({ dir, dbFile, env: APP_ENV });
  const health = await request(app.baseUrl, { path: '/health', timeoutMs: 5000 }).catch((error) => ({
    status: 0,
    body: error.message,
  }));
  record(
    `(e) GET /health 200 after restart ${label}`,
    health.status === 200 ? [] : [`HTTP ${health.status}: ${String(health.body).slice(0, 200)}`],
    `restarted in ${(app.startMs / 1000).toFixed(1)} s`,
  );

  db = openReadOnly(dbFile); // the app runs: WAL lets this reader see its commits
  try {
    await checkLastTokens(db, usable, label);
    await checkOldTokens(db, usable, label);
  } finally {
    db.close();
  }
}

say(
  `crash-safety: ${ROUNDS} round(s), ${CHAINS} refresh chains, REFRESH_REUSE_GRACE=${GRACE_SECONDS}s, database ${dbFile}`,
);
try {
  app = await startAppOnFile({ dir, dbFile, env: APP_ENV });
  say(`app up in ${(app.startMs / 1000).toFixed(1)} s (pid ${app.pid})`);
  await register(app.baseUrl, USER);
  for (let r = 1; r <= ROUNDS; r++) await round(r);

  // Last: a graceful stop, then the whole file once more.
  const exit = await app.stop();
  const stopped = app;
  app = undefined;
  const db = openReadOnly(dbFile);
  try {
    checkFile(db, 'at the end (after a graceful stop)');
    checkSessionShapes(db, 'at the end');
  } finally {
    db.close();
  }
  if (exit.code !== 0 && exit.signal !== 'SIGTERM')
    say(`  (note: app exit on SIGTERM was ${JSON.stringify(exit)}; log ${stopped.logFile})`);
} catch (error) {
  finish(error.stack ?? String(error));
}
finish();
