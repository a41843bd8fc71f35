import type { FastifyReply } from 'fastify';

/** Headers of a response that carries a token: it must never be cached (RFC 6749 §5.1). */
export const NO_STORE_HEADERS: Readonly<Record<string, string>> = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

/** Marks a reply that carries a token as never to be cached. */
export function noStore(reply: FastifyReply): void {
  reply.headers(NO_STORE_HEADERS);
}
