import { afterEach, describe, expect, it, jest } from '@jest/globals';
import {
  BadRequestException,
  Logger,
  NotFoundException,
  PayloadTooLargeException,
  ServiceUnavailableException,
  type ArgumentsHost,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { mockOf } from '../../../test/utils/testing-module.js';
import { DatabaseBusyError } from '../../database/database-busy.error.js';
import { BearerAuthException } from '../http/bearer-auth.exception.js';
import { InsufficientScopeException } from '../http/insufficient-scope.exception.js';
import { OAuthException } from '../http/oauth.exception.js';
import { ServerBusyException } from '../http/server-busy.exception.js';
import { TooManyAttemptsException } from '../http/too-many-attempts.exception.js';
import { WrongMethodException } from '../http/wrong-method.exception.js';
import { AllExceptionsFilter, toErrorResponse } from './all-exceptions.filter.js';

const size = (body: object) => Buffer.byteLength(JSON.stringify(body));

describe('toErrorResponse', () => {
  it('lists at most 10 messages and stays under 4 kB, whatever the messages', () => {
    for (const one of [
      'short message',
      'x'.repeat(10_000),
      '\u0001'.repeat(10_000),
      '€'.repeat(10_000),
      '😀'.repeat(5_000),
    ]) {
      const { status, body } = toErrorResponse(
        new BadRequestException(Array.from({ length: 50 }, () => one)),
        '/auth/register',
      );
      expect(status).toBe(400);
      const messages = (body as { message: string[] }).message;
      expect(messages.length).toBeGreaterThanOrEqual(1);
      expect(messages.length).toBeLessThanOrEqual(10);
      expect(size(body)).toBeLessThan(4096);
    }
  });

  it('keeps a short list whole', () => {
    const { body } = toErrorResponse(new BadRequestException(['username is required', 'password is required']));
    expect(body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: ['username is required', 'password is required'],
    });
  });

  it('cuts a long single message, and an OAuth description, below 4 kB', () => {
    const long = `Cannot GET /${'x'.repeat(20_000)}`;
    const plain = toErrorResponse(new NotFoundException(long), '/x');
    expect((plain.body as { message: string }).message).toMatch(/^Cannot GET \/x+…$/);
    expect(size(plain.body)).toBeLessThan(4096);
    const oauth = toErrorResponse(
      new BadRequestException(Array.from({ length: 50 }, () => '\u0001'.repeat(5_000))),
      '/auth/token',
    );
    expect(oauth.body).toMatchObject({ error: 'invalid_request' });
    expect(size(oauth.body)).toBeLessThan(4096);
  });

  it('answers a wrong method with 405 and Allow, also on the OAuth endpoints', () => {
    const common = toErrorResponse(new WrongMethodException('GET', '/auth/login?x=1', ['POST']), '/auth/login');
    expect(common).toEqual({
      status: 405,
      headers: { Allow: 'POST' },
      body: { statusCode: 405, error: 'Method Not Allowed', message: 'Cannot GET /auth/login; this path allows POST' },
    });
    const oauth = toErrorResponse(new WrongMethodException('GET', '/auth/token', ['POST']), '/auth/token');
    expect(oauth.status).toBe(405);
    expect(oauth.headers).toMatchObject({ Allow: 'POST', 'Cache-Control': 'no-store' });
  });

  it('answers a request whose client went away as a 400, not a logged 500', () => {
    const aborted = Object.assign(new Error('aborted'), { code: 'ECONNRESET', statusCode: 400 });
    expect(toErrorResponse(aborted, '/auth/login').status).toBe(400);
  });
});

const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

describe('toErrorResponse: headers and shapes per exception', () => {
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('adds the RFC 6750 challenge to a Bearer 401', () => {
    const { status, headers, body } = toErrorResponse(new BearerAuthException('realm-x', 'invalid_token'), '/auth/me');
    expect(status).toBe(401);
    expect(headers).toEqual({
      'WWW-Authenticate':
        'Bearer realm="realm-x", error="invalid_token", error_description="The access token is invalid or expired"',
    });
    expect(body).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'The access token is invalid or expired' });
  });

  it('answers a missing scope with 403 and the insufficient_scope challenge naming the scopes required', () => {
    const { status, headers, body } = toErrorResponse(new InsufficientScopeException('realm-x', ['a:b', 'c']), '/x');
    expect(status).toBe(403);
    expect(headers).toEqual({
      'WWW-Authenticate':
        'Bearer realm="realm-x", error="insufficient_scope", error_description="The access token lacks a required scope: a:b c", scope="a:b c"',
    });
    expect(body).toEqual({
      statusCode: 403,
      error: 'Forbidden',
      message: 'The access token lacks a required scope: a:b c',
    });
  });

  it('says when to retry a throttled request; on the OAuth endpoints as `slow_down`, still 429', () => {
    expect(toErrorResponse(new TooManyAttemptsException(42), '/auth/login')).toEqual({
      status: 429,
      headers: { 'Retry-After': '42' },
      body: {
        statusCode: 429,
        error: 'Too Many Requests',
        message: 'Too many failed login attempts; try again in 42 s',
      },
    });
    expect(toErrorResponse(new TooManyAttemptsException(42), '/auth/token')).toEqual({
      status: 429,
      headers: { 'Retry-After': '42', ...NO_STORE },
      body: { error: 'slow_down', error_description: 'Too many failed login attempts; try again in 42 s' },
    });
  });

  it('answers an OAuthException with its own body and status, never cached', () => {
    expect(
      toErrorResponse(new OAuthException('invalid_grant', 'The refresh token was already used'), '/auth/token'),
    ).toEqual({
      status: 400,
      headers: NO_STORE,
      body: { error: 'invalid_grant', error_description: 'The refresh token was already used' },
    });
  });

  it('turns any other client error on the OAuth endpoints into a 400 invalid_request', () => {
    expect(toErrorResponse(new PayloadTooLargeException('Request body is too large'), '/auth/revoke')).toEqual({
      status: 400,
      headers: NO_STORE,
      body: { error: 'invalid_request', error_description: 'Request body is too large' },
    });
    expect(toErrorResponse(new BadRequestException(['a is wrong', 'b is wrong']), '/auth/token').body).toEqual({
      error: 'invalid_request',
      error_description: 'a is wrong; b is wrong',
    });
  });

  it('answers a full queue with 503 and Retry-After: `temporarily_unavailable` on the OAuth endpoints', () => {
    const busy = () => new ServerBusyException('Password hashing is busy', 3);
    expect(toErrorResponse(busy(), '/auth/login')).toEqual({
      status: 503,
      headers: { 'Retry-After': '3' },
      body: { statusCode: 503, error: 'Service Unavailable', message: 'Password hashing is busy' },
    });
    expect(toErrorResponse(busy(), '/auth/token')).toEqual({
      status: 503,
      headers: { 'Retry-After': '3', ...NO_STORE },
      body: { error: 'temporarily_unavailable', error_description: 'Password hashing is busy' },
    });
  });

  it("keeps terminus' per-dependency report as the body of /health's 503, and only there", () => {
    const report = { status: 'error', error: { database: { status: 'down' } } };
    expect(toErrorResponse(new ServiceUnavailableException(report), '/health')).toEqual({
      status: 503,
      headers: {},
      body: report,
    });
    expect(toErrorResponse(new ServiceUnavailableException(report), '/auth/me').body).toMatchObject({
      statusCode: 503,
    });
  });

  it("answers a busy SQLite (our error, or the driver's SQLITE_BUSY*) with 503 and Retry-After", () => {
    const expected = (retryAfter: string) => ({
      status: 503,
      headers: { 'Retry-After': retryAfter },
      body: { statusCode: 503, error: 'Service Unavailable', message: 'The database is busy; try again shortly' },
    });
    expect(toErrorResponse(new DatabaseBusyError(5), '/auth/login')).toEqual(expected('5'));
    const driver = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY_TIMEOUT' });
    expect(toErrorResponse(driver, '/auth/login')).toEqual(expected('1'));
    expect(toErrorResponse({ driverError: { code: 'SQLITE_BUSY' } }, '/auth/login')).toEqual(expected('1'));
  });

  it("keeps the status of Fastify's request errors, with a plain message for the common ones", () => {
    const fastify = (statusCode: number, code: string, message: string) =>
      Object.assign(new Error(message), { statusCode, code });
    expect(
      toErrorResponse(fastify(413, 'FST_ERR_CTP_BODY_TOO_LARGE', 'Request body is too large (internal wording)')),
    ).toEqual({
      status: 413,
      headers: {},
      body: { statusCode: 413, error: 'Payload Too Large', message: 'Request body is too large' },
    });
    expect(toErrorResponse(fastify(400, 'FST_ERR_CTP_EMPTY_JSON_BODY', 'Body cannot be empty')).body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'Body cannot be empty',
    });
  });

  it('logs anything unexpected with its stack and answers a bare 500 that leaks nothing', () => {
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const secret = new Error('connection to postgres://user:hunter2@db failed');
    // A status code alone does not make an error a client error: only Fastify's own (FST_*) are.
    const lookalike = Object.assign(new Error('internal detail'), { statusCode: 400, code: 'ECONNREFUSED' });
    for (const [error, path] of [
      [secret, '/auth/login'],
      [lookalike, '/auth/token'],
      ['a thrown string', '/x'],
    ] as const) {
      const response = toErrorResponse(error, path);
      expect(response).toEqual({
        status: 500,
        headers: {},
        body: { statusCode: 500, error: 'Internal Server Error', message: 'Internal server error' },
      });
    }
    expect(logged).toHaveBeenCalledTimes(3);
    expect(logged.mock.calls[0][0]).toContain('hunter2');
    expect(logged.mock.calls[0][0]).toContain('all-exceptions.filter.spec');
  });
});

describe('AllExceptionsFilter', () => {
  /** Runs the filter for a request and returns what it sent. */
  function caught(exception: unknown, request: Partial<FastifyRequest>) {
    const sent: { headers?: Record<string, string>; status?: number; body?: unknown } = {};
    const reply: ReturnType<typeof mockOf<FastifyReply>> = mockOf<FastifyReply>({
      headers: (headers: Record<string, string>) => ((sent.headers = headers), reply),
      status: (status: number) => ((sent.status = status), reply),
      send: (body: unknown) => ((sent.body = body), reply),
    });
    const host = mockOf<ArgumentsHost>({
      switchToHttp: () =>
        ({ getResponse: () => reply, getRequest: () => request }) as unknown as ReturnType<
          ArgumentsHost['switchToHttp']
        >,
    });
    new AllExceptionsFilter().catch(exception, host);
    expect(reply.send).toHaveBeenCalledTimes(1);
    return sent;
  }

  it('sends the status, headers and body of the error', () => {
    expect(caught(new TooManyAttemptsException(7), { routeOptions: { url: '/auth/login' } } as never)).toEqual({
      status: 429,
      headers: { 'Retry-After': '7' },
      body: {
        statusCode: 429,
        error: 'Too Many Requests',
        message: 'Too many failed login attempts; try again in 7 s',
      },
    });
  });

  it('picks the error shape by the matched route, not the raw URL: /auth/%74oken is the token endpoint', () => {
    const sent = caught(new BadRequestException('Missing parameter'), {
      url: '/auth/%74oken',
      routeOptions: { url: '/auth/token' },
    } as never);
    expect(sent.body).toEqual({ error: 'invalid_request', error_description: 'Missing parameter' });
  });

  it('uses the path without its query when no route matched', () => {
    const sent = caught(new NotFoundException('Cannot POST /auth/token?x=1'), { url: '/auth/token?x=1' });
    expect(sent.status).toBe(400);
    expect(sent.body).toMatchObject({ error: 'invalid_request' });
    expect(caught(new NotFoundException('Not found'), { url: '/nowhere?x=1' }).status).toBe(404);
  });
});
