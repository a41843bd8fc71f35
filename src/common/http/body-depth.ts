import { BadRequestException } from '@nestjs/common';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction, RouteOptions } from 'fastify';

/** Deeper JSON than any of our DTOs needs; deeper bodies are refused before validation recurses into them. */
export const MAX_BODY_DEPTH = 16;

/** True when a parsed body nests objects/arrays deeper than `max`. Iterative: cannot overflow the stack. */
export function exceedsDepth(value: unknown, max = MAX_BODY_DEPTH): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    if (depth >= max) return true;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}

/** Methods whose requests Fastify never parses a body for. */
const BODYLESS_METHODS = new Set(['GET', 'HEAD']);

function refuseDeepBody(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  done(
    exceedsDepth(request.body)
      ? new BadRequestException(`Request body nests deeper than ${MAX_BODY_DEPTH} levels`)
      : undefined,
  );
}

/**
 * `onRoute` hook: class-transformer and class-validator recurse, and a 100 kB body can nest
 * thousands deep, so every route that can receive a body refuses one nested deeper than
 * MAX_BODY_DEPTH before validation. Per route rather than global: a GET has no body, and a
 * global hook cost each of them a call.
 */
export function applyBodyDepthLimit(route: RouteOptions): void {
  const methods = [route.method].flat();
  if (methods.every((method) => BODYLESS_METHODS.has(method))) return;
  route.preValidation = route.preValidation ? [...[route.preValidation].flat(), refuseDeepBody] : refuseDeepBody;
}
