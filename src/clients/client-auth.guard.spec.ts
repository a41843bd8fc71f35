import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { ExecutionContext } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { createTestingModule } from '../../test/utils/testing-module.js';
import { toErrorResponse } from '../common/filters/all-exceptions.filter.js';
import { ClientAuthException } from '../common/http/client-auth.exception.js';
import { TooManyAttemptsException } from '../common/http/too-many-attempts.exception.js';
import {
  AUTHENTICATED_CLIENT,
  ClientAuthGuard,
  parseBasicCredentials,
  type ClientAuthenticatedRequest,
} from './client-auth.guard.js';
import { ClientsModule } from './clients.module.js';
import { ClientsService } from './clients.service.js';

/** RFC 6749 §2.3.1, as the kit sends it: both halves form-urlencoded, then base64. */
function basic(id: string, secret: string): string {
  const form = (value: string) => new URLSearchParams([['', value]]).toString().slice(1);
  return `Basic ${Buffer.from(`${form(id)}:${form(secret)}`).toString('base64')}`;
}

function request(authorization?: string, ip = '203.0.113.7'): ClientAuthenticatedRequest {
  return { headers: authorization === undefined ? {} : { authorization }, ip } as unknown as ClientAuthenticatedRequest;
}

function contextOf(req: ClientAuthenticatedRequest): ExecutionContext {
  return { switchToHttp: () => ({ getRequest: () => req }) } as unknown as ExecutionContext;
}

async function refusal(guard: ClientAuthGuard, req: ClientAuthenticatedRequest): Promise<unknown> {
  try {
    await guard.canActivate(contextOf(req));
  } catch (error) {
    return error;
  }
  throw new Error('expected the guard to refuse');
}

describe('ClientAuthGuard', () => {
  let moduleRef: TestingModule;
  let guard: ClientAuthGuard;
  let clients: ClientsService;

  beforeEach(async () => {
    moduleRef = await createTestingModule({
      imports: [ClientsModule],
      env: { LOGIN_MAX_FAILURES_PER_IP: '3', LOGIN_THROTTLE_WINDOW: '1m' },
    });
    guard = moduleRef.get(ClientAuthGuard);
    clients = moduleRef.get(ClientsService);
  });

  afterEach(async () => {
    await moduleRef.close();
  });

  it('lets a client with its id and secret through and hands the client to the handler', async () => {
    const { client, secret } = await clients.create('orders api', { via: 'cli' });
    const req = request(basic(client.id, secret));
    await expect(guard.canActivate(contextOf(req))).resolves.toBe(true);
    expect(req[AUTHENTICATED_CLIENT]?.id).toBe(client.id);
    expect(req[AUTHENTICATED_CLIENT]?.name).toBe('orders api');
  });

  it('refuses a missing header, another scheme, a wrong secret, an unknown id and a deleted client with invalid_client', async () => {
    const { client, secret } = await clients.create('orders api', { via: 'cli' });
    const other = await clients.create('billing', { via: 'cli' });
    await clients.delete(other.client.id, { via: 'cli' });
    for (const authorization of [
      undefined,
      'Bearer abc',
      basic(client.id, `${secret}x`),
      basic(client.id, other.secret),
      basic('unknown', secret),
      basic(other.client.id, other.secret),
    ]) {
      const error = await refusal(guard, request(authorization, `198.51.100.${Math.floor(Math.random() * 250)}`));
      expect(error).toBeInstanceOf(ClientAuthException);
      const { status, body, headers } = toErrorResponse(error, '/auth/introspect');
      expect(status).toBe(401);
      expect(body).toEqual({ error: 'invalid_client', error_description: expect.any(String) });
      expect(headers['WWW-Authenticate']).toMatch(/^Basic realm="nest-token-auth"/);
      expect(headers['Cache-Control']).toBe('no-store');
    }
  });

  it('throttles failed attempts per IP with 429 and Retry-After; the right secret still passes, and other IPs are not counted', async () => {
    const { client, secret } = await clients.create('orders api', { via: 'cli' });
    for (let i = 0; i < 3; i++) {
      expect(await refusal(guard, request(basic(client.id, 'wrong')))).toBeInstanceOf(ClientAuthException);
    }
    const error = await refusal(guard, request(basic(client.id, 'wrong again')));
    expect(error).toBeInstanceOf(TooManyAttemptsException);
    // Whoever shares the resource server's address cannot lock it out with bad guesses.
    await expect(guard.canActivate(contextOf(request(basic(client.id, secret))))).resolves.toBe(true);
    const { status, headers } = toErrorResponse(error, '/auth/revocations');
    expect(status).toBe(429);
    expect(Number(headers['Retry-After'])).toBeGreaterThan(0);
    await expect(guard.canActivate(contextOf(request(basic(client.id, secret), '203.0.113.8')))).resolves.toBe(true);
  });

  it('counts neither successes nor requests without credentials', async () => {
    const { client, secret } = await clients.create('orders api', { via: 'cli' });
    for (let i = 0; i < 10; i++) {
      await expect(guard.canActivate(contextOf(request(basic(client.id, secret))))).resolves.toBe(true);
      expect(await refusal(guard, request())).toBeInstanceOf(ClientAuthException);
    }
    for (let i = 0; i < 3; i++) await refusal(guard, request(basic(client.id, 'wrong')));
    expect(await refusal(guard, request(basic(client.id, 'wrong')))).toBeInstanceOf(TooManyAttemptsException);
  });

  it('counts an IPv6 /64 as one address', async () => {
    const { client } = await clients.create('orders api', { via: 'cli' });
    for (let i = 1; i <= 3; i++) await refusal(guard, request(basic(client.id, 'wrong'), `2001:db8::${i}`));
    expect(await refusal(guard, request(basic(client.id, 'wrong'), '2001:db8::ffff'))).toBeInstanceOf(
      TooManyAttemptsException,
    );
  });
});

describe('parseBasicCredentials', () => {
  it('form-decodes both halves (a ":" and non-ASCII in the id, "+ /:" in the secret)', () => {
    expect(parseBasicCredentials(basic('orders api:ü', 's3cret+/ :x'))).toEqual({
      clientId: 'orders api:ü',
      secret: 's3cret+/ :x',
    });
  });

  it('is null for malformed credentials', () => {
    const b64 = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`;
    expect(parseBasicCredentials('Basic')).toBeNull();
    expect(parseBasicCredentials('Basic !!!')).toBeNull();
    expect(parseBasicCredentials(b64('no-colon'))).toBeNull();
    expect(parseBasicCredentials(b64(':secret'))).toBeNull();
    expect(parseBasicCredentials(b64('id:'))).toBeNull();
    expect(parseBasicCredentials(b64('id:%E0%A4%A'))).toBeNull();
    expect(parseBasicCredentials(`Basic ${'A'.repeat(1000)}`)).toBeNull();
  });
});
