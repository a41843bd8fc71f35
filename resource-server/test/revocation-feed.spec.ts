import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { ClientAuthenticationError, createTokenVerifier, type TokenVerifier } from '../src/index.js';
import { eventually, FakeAuthServer, nowSeconds, rejectionOf } from './fake-auth-server.js';

describe('createTokenVerifier: the revocation feed', () => {
  let fake: FakeAuthServer;
  const verifiers: TokenVerifier[] = [];
  const verifier = (patch: Record<string, unknown> = {}) => {
    const created = createTokenVerifier({ ...fake.verifierOptions(), ...patch });
    verifiers.push(created);
    return created;
  };
  const refused = async (v: TokenVerifier, token: string) => (await rejectionOf(v.verify(token))).reason;

  beforeEach(async () => {
    fake = await FakeAuthServer.start();
  });
  afterEach(async () => {
    await Promise.all(verifiers.splice(0).map((v) => v.close()));
    await fake.close();
  });

  it('applies the backfill before ready(): revocations from before it started count at once', async () => {
    const revoked = await fake.sign({ sid: 's-revoked' });
    const cutOffUser = await fake.sign({ sub: 'u-cut' }, { issuedAt: -60 });
    fake.revokeSession('s-revoked');
    fake.cutOff('u-cut', nowSeconds() - 30);
    fake.revokeSession('s-past', 'user-1', nowSeconds() - 1);
    fake.pollPageSize = 1;

    const v = verifier();
    await v.ready();
    expect(await refused(v, revoked)).toBe('revoked');
    expect(await refused(v, cutOffUser)).toBe('revoked');
    await expect(v.verify(await fake.sign())).resolves.toMatchObject({ sub: 'user-1' });
    // Paged catch-up, then the stream from the last cursor, each authenticated as the client.
    expect(
      fake.requests.filter((r) => r.path === '/auth/revocations').map((r) => [r.stream, r.since, r.lastEventId]),
    ).toEqual([
      [false, null, undefined],
      [false, '1', undefined],
      [false, '2', undefined],
      [true, null, '2'],
    ]);
    expect(fake.requests.filter((r) => r.path === '/auth/revocations').every((r) => r.authorized)).toBe(true);
  });

  it('refuses a cached token as soon as its session’s revocation arrives, and only that session', async () => {
    const v = verifier();
    await v.ready();
    const token = await fake.sign({ sid: 's1' });
    const other = await fake.sign({ sid: 's2' });
    await v.verify(token);
    await v.verify(other);
    fake.revokeSession('s1');
    await eventually(async () => (await refused(v, token)) === 'revoked');
    await expect(v.verify(other)).resolves.toMatchObject({ sid: 's2' });
  });

  it('refuses a user’s tokens issued before the cut-off, and accepts those issued from it on', async () => {
    const v = verifier();
    await v.ready();
    const cutOffAt = nowSeconds() - 5;
    const before = await fake.sign({ sub: 'u1' }, { issuedAt: -6 });
    const at = await fake.sign({ sub: 'u1' }, { issuedAt: -5 });
    const otherUser = await fake.sign({ sub: 'u2' }, { issuedAt: -6 });
    await v.verify(before);
    fake.cutOff('u1', cutOffAt);
    await eventually(async () => (await refused(v, before)) === 'revoked');
    await expect(v.verify(at)).resolves.toMatchObject({ sub: 'u1' });
    await expect(v.verify(otherUser)).resolves.toMatchObject({ sub: 'u2' });
  });

  it('reconnects after the stream drops, resumes from its cursor (Last-Event-ID) and misses nothing', async () => {
    const v = verifier();
    await v.ready();
    const tokens = await Promise.all(['s1', 's2', 's3'].map((sid) => fake.sign({ sid })));
    fake.revokeSession('s1');
    await eventually(async () => (await refused(v, tokens[0])) === 'revoked');

    // Revoked while the kit is disconnected: the catch-up brings it back.
    fake.dropStreams();
    fake.revokeSession('s2');
    // Revoked between the catch-up and the new stream: the stream's replay from the cursor brings it.
    fake.afterPoll = (itemCount) => {
      if (itemCount) return;
      fake.afterPoll = undefined;
      fake.revokeSession('s3');
    };
    await eventually(
      async () => (await refused(v, tokens[1])) === 'revoked' && (await refused(v, tokens[2])) === 'revoked',
    );

    const streams = fake.streamRequests();
    expect(streams.map((r) => r.lastEventId)).toEqual([undefined, '2']);
    const polls = fake.requests.filter((r) => r.path === '/auth/revocations' && !r.stream);
    expect(polls.map((r) => r.since)).toEqual([null, '1', '2']);
  });

  it('survives the auth server going away and coming back, then applies what it missed', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const v = verifier({ maxStaleness: 30 });
      await v.ready();
      const token = await fake.sign({ sid: 's-gone' });
      await v.verify(token);

      fake.feedStatus = 503;
      fake.dropStreams();
      await eventually(() => fake.requests.filter((r) => r.path === '/auth/revocations').length >= 4);
      fake.revokeSession('s-gone');
      fake.feedStatus = 200;

      await eventually(async () => (await refused(v, token)) === 'revoked');
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('replaces a stream that goes silent (a dead connection) before maxStaleness runs out', async () => {
    const v = verifier({ maxStaleness: 3 });
    await v.ready();
    await eventually(() => fake.openStreams === 1);
    expect(fake.streamRequests()).toHaveLength(1);
    fake.heartbeat = false;
    await eventually(() => fake.streamRequests().length >= 2, 6000);
    expect(fake.streamRequests().at(-1)!.lastEventId).toBe(fake.streamRequests()[0].lastEventId);
  });

  it('with transport: poll, asks every second and still learns revocations', async () => {
    const v = verifier({ transport: 'poll' });
    await v.ready();
    const token = await fake.sign({ sid: 's1' });
    await v.verify(token);
    fake.revokeSession('s1');
    await eventually(async () => (await refused(v, token)) === 'revoked');
    expect(fake.streamRequests()).toEqual([]);
  });

  it('rejects ready() with a clear error when the client secret is wrong, and keeps the host alive', async () => {
    const v = verifier({ clientSecret: 'wrong' });
    const error = await rejectionOf(v.ready());
    expect(error).toBeInstanceOf(ClientAuthenticationError);
    expect(error.message).toMatch(/client credentials \(401\); check clientId and clientSecret/);
    expect(error.message).not.toContain('wrong');
    expect(fake.requests.some((r) => r.path === '/auth/revocations' && !r.authorized)).toBe(true);
  });

  it('close() ends the stream; verify() then answers 503', async () => {
    const v = verifier();
    await v.ready();
    const token = await fake.sign();
    await v.verify(token);
    await eventually(() => fake.openStreams === 1);
    await v.close();
    await eventually(() => fake.openStreams === 0);
    const error = await rejectionOf(v.verify(token));
    expect([error.status, error.code]).toEqual([503, 'temporarily_unavailable']);
    await expect(v.ready()).rejects.toThrow(/closed/);
  });

  it('reports losing and regaining the feed once each, never with a token or secret', async () => {
    const lines: string[] = [];
    const v = verifier({ log: (line: string) => lines.push(line), maxStaleness: 30 });
    await v.ready();
    fake.feedStatus = 503;
    fake.dropStreams();
    await eventually(() => fake.requests.filter((r) => r.path === '/auth/revocations').length >= 5);
    fake.feedStatus = 200;
    await eventually(() => lines.some((line) => line.includes('restored')));
    expect(lines.filter((line) => line.includes('revocation feed lost'))).toHaveLength(1);
    expect(lines.join('\n')).not.toContain(fake.clientSecret);
  });
});
