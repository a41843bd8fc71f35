import { describe, expect, it } from '@jest/globals';
import type { ExecutionContext } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { mockOf } from '../../../test/utils/testing-module.js';
import type { ClientInfo } from './client-info.js';
import { Client } from './client.decorator.js';

class Handlers {
  handle(@Client() client: ClientInfo): ClientInfo {
    return client;
  }
}

/** What Nest passes to the handler for @Client(), for a request with these properties. */
function clientFor(request: { ip?: string; headers: Record<string, string> }): ClientInfo {
  const args = Reflect.getMetadata(ROUTE_ARGS_METADATA, Handlers, 'handle') as Record<
    string,
    { factory: (data: unknown, context: ExecutionContext) => ClientInfo }
  >;
  const [{ factory }] = Object.values(args);
  const context = mockOf<ExecutionContext>({
    switchToHttp: () => ({ getRequest: () => request }) as unknown as ReturnType<ExecutionContext['switchToHttp']>,
  });
  return factory(undefined, context);
}

describe('@Client()', () => {
  it("gives the handler the request's IP and User-Agent", () => {
    expect(clientFor({ ip: '203.0.113.7', headers: { 'user-agent': 'curl/8.5.0' } })).toEqual({
      ip: '203.0.113.7',
      userAgent: 'curl/8.5.0',
    });
  });

  it('leaves the User-Agent undefined when the request has none', () => {
    expect(clientFor({ ip: '203.0.113.7', headers: {} })).toEqual({ ip: '203.0.113.7', userAgent: undefined });
  });
});
