import type { FastifyRequest } from 'fastify';

/** Who is calling, as recorded on sessions and audit events. */
export interface ClientInfo {
  userAgent?: string | null;
  ip?: string | null;
}

export function clientOf(request: FastifyRequest): ClientInfo {
  return { ip: request.ip, userAgent: request.headers['user-agent'] };
}
