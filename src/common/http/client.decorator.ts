import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { clientOf, type ClientInfo } from './client-info.js';

/**
 * The caller's IP and User-Agent, for sessions and audit events: `@Client() client: ClientInfo`,
 * so handlers need not take the whole request for them.
 */
export const Client = createParamDecorator((_data: unknown, context: ExecutionContext): ClientInfo =>
  clientOf(context.switchToHttp().getRequest<FastifyRequest>()),
);
