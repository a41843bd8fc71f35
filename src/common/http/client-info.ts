import { isIP } from 'node:net';
import type { FastifyRequest } from 'fastify';

/** Who is calling, as recorded on sessions and audit events. */
export interface ClientInfo {
  userAgent?: string | null;
  ip?: string | null;
}

export function clientOf(request: FastifyRequest): ClientInfo {
  // Behind a trusted proxy, request.ip is whatever text its X-Forwarded-For carried: only an
  // address is worth storing and showing back on the sessions and audit pages.
  return { ip: isIP(request.ip) ? request.ip : null, userAgent: request.headers['user-agent'] };
}
