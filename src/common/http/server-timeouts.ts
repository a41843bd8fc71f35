import type { ServerOptions } from 'node:http';

/**
 * Idle keep-alive connections, and connections with no traffic either way (a client that stops
 * reading a large response), are closed after this long. Fastify's default, kept because it is
 * longer than the usual 60 s idle timeout of load balancers: the balancer must be the side that
 * closes an idle connection, or it may send a request down one we are closing (a 502).
 */
export const IDLE_CONNECTION_TIMEOUT_MS = 72_000;

export interface ServerTimeouts {
  /** Fastify's options; Fastify copies them onto the Node server it creates. */
  requestTimeout: number;
  keepAliveTimeout: number;
  connectionTimeout: number;
  /** Options for Node's `http.createServer`, which only takes them there. */
  http: Pick<ServerOptions, 'requestTimeout' | 'headersTimeout' | 'connectionsCheckingInterval'>;
}

/**
 * Timeouts that make `requestTimeoutSeconds` the real bound on receiving a request. Node checks
 * `requestTimeout`/`headersTimeout` only when it sweeps its connections, every
 * `connectionsCheckingInterval` (30 s by default), so a stalled request would live up to 30 s
 * past its timeout. The sweep runs every tenth of the timeout (at most every second), and Node
 * is given the timeout minus one sweep, so a stalled request is answered 408 and closed within
 * the configured time. A connection that sends nothing at all counts as a stalled request too.
 */
export function serverTimeouts(requestTimeoutSeconds: number): ServerTimeouts {
  const totalMs = requestTimeoutSeconds * 1000;
  const sweepMs = Math.min(1000, Math.ceil(totalMs / 10));
  const timeoutMs = totalMs - sweepMs;
  return {
    requestTimeout: timeoutMs,
    keepAliveTimeout: IDLE_CONNECTION_TIMEOUT_MS,
    connectionTimeout: Math.max(IDLE_CONNECTION_TIMEOUT_MS, totalMs),
    http: { requestTimeout: timeoutMs, headersTimeout: timeoutMs, connectionsCheckingInterval: sweepMs },
  };
}
