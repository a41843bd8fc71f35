import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { createTestApp, type TestApp } from '../utils/create-test-app.js';
import { sessionRow } from '../utils/db.js';
import { refreshCookie } from '../utils/http.js';
import {
  bearer,
  expectAccessTokenDies,
  expectAccessTokenWorks,
  expectRefreshTokenDead,
  loginAs,
  newUser,
  refreshWith,
  revokeAtEndpoint,
  type Login,
} from './security-helpers.js';

/**
 * Concurrent operations on one session, many rounds over. Whatever the interleaving: no 5xx, no
 * two different successors for one refresh token, and once the session is revoked nothing of it
 * works any more, access tokens included.
 */

type Op =
  | 'refresh' // POST /auth/refresh with the current refresh token
  | 'token-refresh' // POST /auth/token grant_type=refresh_token with the current refresh token
  | 'stale-refresh' // POST /auth/refresh with the previous (already rotated) refresh token
  | 'logout' // POST /auth/logout with the current refresh token
  | 'revoke' // POST /auth/revoke token=<current refresh token>
  | 'revoke-access' // POST /auth/revoke token=<access token>
  | 'delete' // DELETE /auth/sessions/:id from another session of the same user
  | 'delete-self' // DELETE /auth/sessions/:id with the session's own access token
  | 'me'; // GET /auth/me with the session's access token (loads the session-state cache mid-race)

const COMBOS: Op[][] = [
  ['refresh', 'refresh'],
  ['refresh', 'refresh', 'refresh', 'refresh'],
  ['refresh', 'token-refresh', 'refresh'],
  ['refresh', 'logout'],
  ['refresh', 'refresh', 'logout', 'me'],
  ['refresh', 'revoke', 'me'],
  ['refresh', 'delete', 'me', 'me'],
  ['refresh', 'refresh', 'delete-self'],
  ['logout', 'revoke', 'delete', 'me'],
  ['refresh', 'refresh', 'logout', 'revoke', 'delete'],
  ['refresh', 'stale-refresh', 'me'],
  ['stale-refresh', 'stale-refresh', 'refresh', 'revoke-access'],
];
const ROUNDS = 24;

const ALLOWED_STATUS: Record<Op, number[]> = {
  refresh: [200, 401],
  'token-refresh': [200, 400],
  'stale-refresh': [200, 401],
  logout: [204],
  revoke: [200],
  'revoke-access': [200],
  delete: [204, 404],
  'delete-self': [204, 401, 404],
  me: [200, 401],
};
const REVOKERS: Op[] = ['logout', 'revoke', 'revoke-access', 'delete', 'delete-self'];

interface Outcome {
  op: Op;
  presented?: string;
  status: number;
  issuedRefresh?: string;
  issuedAccess?: string;
  text: string;
}

describe.each([
  ['0', 0],
  ['10s', 10],
])('races on one session (e2e, REFRESH_REUSE_GRACE=%s)', (graceEnv, grace) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ REFRESH_REUSE_GRACE: graceEnv });
  });
  afterAll(async () => {
    await t.close();
  });

  const run = async (
    op: Op,
    target: Login,
    current: string,
    previous: string | undefined,
    controller: Login,
  ): Promise<Outcome> => {
    let response: request.Response;
    let presented: string | undefined;
    switch (op) {
      case 'refresh':
        presented = current;
        response = await refreshWith(t.server, current);
        break;
      case 'stale-refresh':
        presented = previous!;
        response = await refreshWith(t.server, previous!);
        break;
      case 'token-refresh':
        presented = current;
        response = await request(t.server)
          .post('/auth/token')
          .type('form')
          .send({ grant_type: 'refresh_token', refresh_token: current });
        break;
      case 'logout':
        response = await request(t.server).post('/auth/logout').set('Cookie', `refresh_token=${current}`);
        break;
      case 'revoke':
        response = await revokeAtEndpoint(t.server, current);
        break;
      case 'revoke-access':
        response = await revokeAtEndpoint(t.server, target.accessToken);
        break;
      case 'delete':
        response = await bearer(t.server, 'delete', `/auth/sessions/${target.sid}`, controller.accessToken);
        break;
      case 'delete-self':
        response = await bearer(t.server, 'delete', `/auth/sessions/${target.sid}`, target.accessToken);
        break;
      case 'me':
        response = await bearer(t.server, 'get', '/auth/me', target.accessToken);
        break;
    }
    const issuedRefresh =
      op === 'token-refresh'
        ? (response.body.refresh_token as string | undefined)
        : refreshCookie(response) || undefined;
    const issuedAccess = response.body?.access_token as string | undefined;
    return { op, presented, status: response.status, issuedRefresh, issuedAccess, text: response.text };
  };

  it(`keeps every invariant over ${ROUNDS} rounds of concurrent refresh, logout, revoke and delete`, async () => {
    const summary: Record<string, number> = { revoked: 0, alive: 0 };

    for (let round = 0; round < ROUNDS; round++) {
      const combo = COMBOS[round % COMBOS.length];
      const label = `round ${round} [${combo.join(', ')}]`;
      const controller = await newUser(t.server, 'race');
      const target = await loginAs(t.server, controller.username, controller.password);

      // Some combos need a token that was already rotated once.
      let previous: string | undefined;
      let current = target.refreshToken;
      const accessTokens = [target.accessToken];
      if (combo.includes('stale-refresh')) {
        const first = await refreshWith(t.server, current).expect(200);
        previous = current;
        current = refreshCookie(first)!;
        accessTokens.push(first.body.access_token as string);
      }

      const outcomes = await Promise.all(combo.map((op) => run(op, target, current, previous, controller)));

      // No 5xx, and only the statuses each operation may answer with.
      for (const o of outcomes) {
        expect({ label, op: o.op, status: o.status, ok: ALLOWED_STATUS[o.op].includes(o.status) }).toEqual({
          label,
          op: o.op,
          status: o.status,
          ok: true,
        });
      }

      // At most one distinct successor per presented refresh token; with no grace, at most one success.
      const successors = new Map<string, Set<string>>();
      for (const o of outcomes) {
        if (!o.presented || !o.issuedRefresh) continue;
        if (!successors.has(o.presented)) successors.set(o.presented, new Set());
        successors.get(o.presented)!.add(o.issuedRefresh);
      }
      for (const [presented, issued] of successors) {
        expect({ label, presented: presented === current ? 'current' : 'previous', distinct: issued.size }).toEqual({
          label,
          presented: presented === current ? 'current' : 'previous',
          distinct: 1,
        });
        // Replaying the previous token can only ever hand back the token it was rotated into.
        if (presented === previous) expect({ label, same: [...issued][0] === current }).toEqual({ label, same: true });
      }
      if (grace === 0) {
        const successesPerToken = new Map<string, number>();
        for (const o of outcomes) {
          if (o.presented && o.status === 200)
            successesPerToken.set(o.presented, (successesPerToken.get(o.presented) ?? 0) + 1);
        }
        for (const [, count] of successesPerToken) expect({ label, successes: count }).toEqual({ label, successes: 1 });
      }

      const issuedRefresh = [...new Set(outcomes.flatMap((o) => (o.issuedRefresh ? [o.issuedRefresh] : [])))];
      accessTokens.push(...outcomes.flatMap((o) => (o.issuedAccess ? [o.issuedAccess] : [])));

      const row = await sessionRow(t, target.sid);
      const revoked = row?.revoked_at !== null;
      const refreshes = combo.filter(
        (op) => op === 'refresh' || op === 'token-refresh' || op === 'stale-refresh',
      ).length;
      const mustBeRevoked =
        combo.some((op) => REVOKERS.includes(op)) ||
        (grace === 0 && (refreshes >= 2 || combo.includes('stale-refresh')));
      if (mustBeRevoked) expect({ label, revoked }).toEqual({ label, revoked: true });

      if (revoked) {
        summary.revoked += 1;
        for (const [i, token] of accessTokens.entries())
          await expectAccessTokenDies(t.server, token, `${label}: access token ${i}`);
        for (const [i, token] of [target.refreshToken, current, ...issuedRefresh].entries()) {
          await expectRefreshTokenDead(t.server, token, `${label}: refresh token ${i}`);
        }
        const listed = await bearer(t.server, 'get', '/auth/sessions', controller.accessToken).expect(200);
        expect((listed.body as Array<{ id: string }>).map((s) => s.id)).not.toContain(target.sid);
      } else {
        summary.alive += 1;
        // Still live: every access token handed out works, and the newest refresh token rotates.
        for (const [i, token] of accessTokens.entries())
          await expectAccessTokenWorks(t.server, token, `${label}: access token ${i}`);
        const fromCurrent = successors.get(current);
        const newest = fromCurrent ? [...fromCurrent][0] : current;
        expect({ label, status: (await refreshWith(t.server, newest)).status }).toEqual({ label, status: 200 });
      }

      // The user's other session is never collateral damage.
      await expectAccessTokenWorks(t.server, controller.accessToken, `${label}: controller session`);
    }

    // Both branches were exercised (with a grace window, refresh-only rounds keep the session).
    expect(summary.revoked).toBeGreaterThan(0);
    if (grace > 0) expect(summary.alive).toBeGreaterThan(0);
  });
});
