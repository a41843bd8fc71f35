// The throughput ceiling: a bare node:http server answering a small JSON body (about the size
// of the /auth/me answer). Run as its own process; prints `listening <port>` once ready.
import { createServer } from 'node:http';

const body = JSON.stringify({ id: '0b8f2f0e-2f6b-4c59-9a57-6f1d3a6f2a10', username: 'bench-user' });
const server = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.keepAliveTimeout = 72_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
// Exit with the bench even when it is killed without stopping us (it spawns us with an IPC channel).
process.on('disconnect', () => process.exit(0));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
