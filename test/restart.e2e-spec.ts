import { afterAll, describe, expect, it } from '@jest/globals';
import { createTestApp, tempSqliteUrl, type TestApp } from './utils/create-test-app.js';
import { sessionRow } from './utils/db.js';
import { decodeJwt, login, me, refresh, refreshCookie } from './utils/http.js';

describe('restart on a file database (e2e)', () => {
  const db = tempSqliteUrl();
  let t: TestApp | undefined;

  afterAll(async () => {
    await t?.close();
    await db.cleanup();
  });

  it('keeps users, sessions and keys: old access token verifies, refresh token rotates, login works', async () => {
    t = await createTestApp({ DATABASE_URL: db.url });
    const before = await login(t.server);
    const { id } = (await me(t.server, before.accessToken).expect(200)).body as { id: string };
    // Leave a rotated token behind too, so the restarted app sees a chain, not just a first token.
    const rotated = await refresh(t.server, before.refreshToken).expect(200);
    const current = refreshCookie(rotated)!;
    const accessBeforeRestart = rotated.body.access_token as string;
    await t.close();
    t = undefined;

    t = await createTestApp({ DATABASE_URL: db.url });

    // Signed before the restart, verified after: the key came from the database.
    const whoami = await me(t.server, accessBeforeRestart).expect(200);
    expect(whoami.body).toEqual({ id, username: before.username, roles: [] });
    await me(t.server, before.accessToken).expect(200);

    // The refresh token issued before the restart rotates after it, in the same session.
    const afterRestart = await refresh(t.server, current).expect(200);
    const next = refreshCookie(afterRestart)!;
    expect(next).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(next).not.toBe(current);
    expect(decodeJwt(afterRestart.body.access_token).payload.sid).toBe(decodeJwt(before.accessToken).payload.sid);
    await me(t.server, afterRestart.body.access_token).expect(200);

    // The user can log in with the same password, and still is the same account.
    const again = await login(t.server, before.username, before.password);
    expect((await me(t.server, again.accessToken).expect(200)).body.id).toBe(id);
  });

  it('replays the same child inside the grace window across a restart (the refresh MAC key survived)', async () => {
    await t?.close();
    t = await createTestApp({ DATABASE_URL: db.url });
    const { refreshToken: parent } = await login(t.server);
    const child = refreshCookie(await refresh(t.server, parent).expect(200))!;
    await t.close();

    // Well inside the default 10s grace: the new process re-derives the child from the parent.
    t = await createTestApp({ DATABASE_URL: db.url });
    expect(refreshCookie(await refresh(t.server, parent).expect(200))).toBe(child);
    await refresh(t.server, child).expect(200);
  });

  it('detects reuse across a restart: the pre-restart chain stays used up and the session is revoked', async () => {
    await t?.close();
    t = await createTestApp({ DATABASE_URL: db.url, REFRESH_REUSE_GRACE: '0' });
    const first = await login(t.server);
    const second = refreshCookie(await refresh(t.server, first.refreshToken).expect(200))!;
    await t.close();

    t = await createTestApp({ DATABASE_URL: db.url, REFRESH_REUSE_GRACE: '0' });
    const sid = decodeJwt(first.accessToken).payload.sid as string;
    expect(await sessionRow(t, sid)).toMatchObject({ revoked_at: null });
    await refresh(t.server, first.refreshToken).expect(401);
    expect(await sessionRow(t, sid)).toMatchObject({ revoked_reason: 'refresh_token_reuse' });
    await refresh(t.server, second).expect(401);
  });
});
