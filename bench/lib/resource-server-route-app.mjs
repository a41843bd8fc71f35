// The API process of bench/resource-server-route.mjs: one Express app with the same handler on
// two routes, /open/orders (unguarded) and /orders (the kit's bearerAuth), so both are measured
// in the same process, the same run. Prints "listening <port>" once the kit is ready.
import express from 'express';
import { bearerAuth, createTokenVerifier } from '../../resource-server/dist/index.js';

const { RS_ISSUER: issuer, RS_CLIENT_ID: clientId, RS_CLIENT_SECRET: clientSecret } = process.env;
const verifier = createTokenVerifier({ issuer, audience: issuer, clientId, clientSecret, log: false });
await verifier.ready();

const ORDERS = [
  { id: 'o-1001', item: 'tea', quantity: 2 },
  { id: 'o-1002', item: 'cups', quantity: 6 },
];
const orders = (_req, res) => res.json({ orders: ORDERS });

const app = express();
app.disable('x-powered-by');
app.get('/open/orders', orders);
app.get('/orders', bearerAuth(verifier), orders);
// This process's CPU time (µs), read by the bench between runs: CPU per request is the route's
// capacity, far less sensitive to a shared machine's neighbours than requests per second.
app.get('/cpu', (_req, res) => {
  const { user, system } = process.cpuUsage();
  res.json({ us: user + system });
});
const server = app.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void verifier.close();
});
