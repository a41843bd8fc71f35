// A stand-in for the auth server's side of the resource-server kit, for the kit's benches: the
// JWKS, the revocation feed's catch-up (polling form) and a live SSE stream with a comment every
// 500 ms, so the kit runs as in production (fresh, nothing cached but what it caches itself).
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

/**
 * Starts on 127.0.0.1. `backfill`: feed entries served to the catch-up. Resolves with
 * { issuer, client: { id, secret }, sign(claims), close() }; `sign` makes an RS256 access token
 * (typ at+jwt, a fresh sid and jti, valid for an hour) with `claims` on top.
 */
export async function startFakeAuthServer({ backfill = [] } = {}) {
  const client = { id: 'bench', secret: 'bench-secret' };
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = randomUUID();
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  const expectedAuth = `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`;
  const streams = new Set();
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/.well-known/jwks.json') return json(res, { keys: [jwk] });
    if (url.pathname !== '/auth/revocations') return json(res, { error: 'not_found' }, 404);
    if (req.headers.authorization !== expectedAuth) return json(res, { error: 'invalid_client' }, 401);
    if ((req.headers.accept ?? '').includes('text/event-stream')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
      streams.add(res);
      res.on('close', () => streams.delete(res));
      return;
    }
    const since = Number(url.searchParams.get('since') ?? 0);
    const items = backfill.filter((item) => Number(item.id) > since);
    json(res, { items, next: items.at(-1)?.id ?? String(since) });
  });
  const heartbeat = setInterval(() => {
    for (const stream of streams) stream.write(': keep-alive\n');
  }, 500);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${server.address().port}`;

  const sign = (claims) =>
    new SignJWT({ sid: randomUUID(), jti: randomUUID(), iss: issuer, aud: issuer, ...claims })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid })
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(privateKey);

  const close = () => {
    clearInterval(heartbeat);
    for (const stream of streams) stream.destroy();
    server.close();
  };
  return { issuer, client, sign, close };
}

function json(res, body, status = 200) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
