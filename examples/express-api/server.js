// An orders API protected by the kit: Express 5, configuration from the environment.
// In your own project, import from '@nest-token-auth/resource-server'; this example uses the copy
// the repository's `npm run build` puts in resource-server/dist, so it runs without an install.
import express from 'express';
import { bearerAuth, createTokenVerifier } from '../../resource-server/dist/index.js';

function env(name, fallback) {
  const value = process.env[name] || fallback;
  if (value === undefined) {
    console.error(`${name} is required (see examples/express-api/README.md)`);
    process.exit(1);
  }
  return value;
}

const issuer = env('AUTH_ISSUER');
const verifier = createTokenVerifier({
  issuer,
  audience: env('AUTH_AUDIENCE', issuer),
  clientId: env('AUTH_CLIENT_ID'),
  clientSecret: env('AUTH_CLIENT_SECRET'),
  authServerUrl: env('AUTH_SERVER_URL', issuer),
  whenStale: env('WHEN_STALE', 'introspect'),
  maxStaleness: Number(env('MAX_STALENESS', '5')),
});
// JWKS loaded and every revocation still in force applied before the first request is trusted;
// a refused client secret stops start-up here.
await verifier.ready().catch((error) => {
  console.error(`express-api: ${error.message}`);
  process.exit(1);
});

const ORDERS = [
  { id: 'o-1001', item: 'tea', quantity: 2 },
  { id: 'o-1002', item: 'cups', quantity: 6 },
];

const app = express();
app.disable('x-powered-by');

app.get('/health', (_req, res) => res.json({ status: 'ok' }));

// Any valid, unrevoked token.
app.get('/orders', bearerAuth(verifier), (req, res) => {
  res.json({ user: req.auth.sub, orders: ORDERS });
});

// Admins only: a token without the role gets 403 insufficient_scope.
app.get('/orders/export', bearerAuth(verifier, { roles: ['admin'] }), (req, res) => {
  res.type('text/csv').send(['id,item,quantity', ...ORDERS.map((o) => `${o.id},${o.item},${o.quantity}`)].join('\n'));
});

const port = Number(env('PORT', '4000'));
const server = app.listen(port, env('HOST', '127.0.0.1'), (error) => {
  if (error) throw error;
  console.log(`express-api listening on http://${env('HOST', '127.0.0.1')}:${port}`);
});

// The feed's stream keeps the process alive: close it with the server.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    server.close();
    server.closeAllConnections();
    void verifier.close();
  });
}
