import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createTokenVerifier, type TokenVerifier } from '../src/index.js';
import { eventually, FakeAuthServer, rejectionOf } from './fake-auth-server.js';

/**
 * The feed is "stale" once nothing arrived for longer than maxStaleness. Here the auth server
 * keeps answering JWKS and introspection but its feed goes quiet and refuses new connections
 * (feedStatus 503), which is what a stuck feed or a broken network path looks like to the kit.
 */
describe('createTokenVerifier: when the feed is stale', () => {
  let fake: FakeAuthServer;
  const verifiers: TokenVerifier[] = [];
  const verifier = (patch: Record<string, unknown> = {}) => {
    const created = createTokenVerifier({ ...fake.verifierOptions(), maxStaleness: 0.3, ...patch });
    verifiers.push(created);
    return created;
  };
  const silenceFeed = () => {
    fake.heartbeat = false;
    fake.feedStatus = 503;
  };
  const restoreFeed = () => {
    fake.heartbeat = true;
    fake.feedStatus = 200;
  };
  /** True once a fresh token is answered through introspection: the kit considers itself stale. */
  const isStale = async (v: TokenVerifier) => {
    const token = await fake.sign();
    const before = fake.introspections.length;
    await v.verify(token).catch(() => {});
    return fake.introspections.length > before;
  };

  beforeEach(async () => {
    fake = await FakeAuthServer.start();
  });
  afterEach(async () => {
    await Promise.all(verifiers.splice(0).map((v) => v.close()));
    await fake.close();
  });

  it('does not introspect while the feed is live', async () => {
    const v = verifier({ maxStaleness: 5 });
    await v.ready();
    const token = await fake.sign();
    for (let i = 0; i < 5; i++) await v.verify(token);
    expect(fake.introspections).toEqual([]);
  });

  it("whenStale 'introspect': asks the auth server, at most once per token per second, and takes its word", async () => {
    const v = verifier();
    await v.ready();
    const token = await fake.sign({ sub: 'u7' });
    await v.verify(token);
    silenceFeed();
    await eventually(() => isStale(v));

    const before = fake.introspections.filter((t) => t === token).length;
    const principals = await Promise.all(Array.from({ length: 20 }, () => v.verify(token)));
    expect(fake.introspections.filter((t) => t === token).length - before).toBeLessThanOrEqual(1);
    // Introspection also tells the username, which the token does not carry.
    expect(principals[0]).toMatchObject({ sub: 'u7', username: 'name-of-u7' });
  });

  it("whenStale 'introspect': refuses what the auth server calls inactive (a revocation the feed did not bring)", async () => {
    const v = verifier();
    await v.ready();
    const token = await fake.sign();
    await v.verify(token);
    silenceFeed();
    fake.introspection = 'inactive';
    await eventually(async () => (await rejectionOf(v.verify(token))).reason === 'inactive');
    const error = await rejectionOf(v.verify(token));
    expect([error.status, error.code]).toEqual([401, 'invalid_token']);
  });

  it("whenStale 'introspect': answers 503 when introspection fails too", async () => {
    const v = verifier();
    await v.ready();
    const token = await fake.sign();
    await v.verify(token);
    silenceFeed();
    fake.introspection = 'error';
    await eventually(async () => (await rejectionOf(v.verify(token))).status === 503);
    const error = await rejectionOf(v.verify(token));
    expect([error.code, error.reason]).toEqual(['temporarily_unavailable', 'unavailable']);
  });

  it('goes back to local answers once the feed is heard again', async () => {
    const v = verifier();
    await v.ready();
    silenceFeed();
    await eventually(() => isStale(v));
    restoreFeed();
    await eventually(async () => !(await isStale(v)));
  });

  it("whenStale 'reject': answers 503 temporarily_unavailable, then accepts again once the feed is back", async () => {
    const v = verifier({ whenStale: 'reject' });
    await v.ready();
    const token = await fake.sign();
    await v.verify(token);
    silenceFeed();
    await eventually(async () => (await rejectionOf(v.verify(token))).status === 503);
    const error = await rejectionOf(v.verify(token));
    expect([error.code, error.reason, error.wwwAuthenticate]).toEqual(['temporarily_unavailable', 'stale', 'Bearer']);
    expect(fake.introspections).toEqual([]);
    restoreFeed();
    await eventually(async () => (await v.verify(token)).sub === 'user-1');
  });

  it('before the first catch-up, tokens are checked as if stale (introspection), never trusted blindly', async () => {
    fake.feedStatus = 503;
    const v = verifier({ maxStaleness: 5 });
    const token = await fake.sign();
    await expect(v.verify(token)).resolves.toMatchObject({ sub: 'user-1' });
    expect(fake.introspections).toEqual([token]);

    const strict = verifier({ maxStaleness: 5, whenStale: 'reject' });
    expect((await rejectionOf(strict.verify(token))).status).toBe(503);
  });
});
