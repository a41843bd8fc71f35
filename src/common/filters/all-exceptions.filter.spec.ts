import { BadRequestException, NotFoundException } from '@nestjs/common';
import { describe, expect, it } from '@jest/globals';
import { WrongMethodException } from '../http/wrong-method.exception.js';
import { toErrorResponse } from './all-exceptions.filter.js';

const size = (body: object) => Buffer.byteLength(JSON.stringify(body));

describe('toErrorResponse', () => {
  it('lists at most 10 messages and stays under 4 kB, whatever the messages', () => {
    for (const one of ['short message', 'x'.repeat(10_000), '\u0001'.repeat(10_000), '€'.repeat(10_000), '😀'.repeat(5_000)]) {
      const { status, body } = toErrorResponse(new BadRequestException(Array.from({ length: 50 }, () => one)), '/auth/register');
      expect(status).toBe(400);
      const messages = (body as { message: string[] }).message;
      expect(messages.length).toBeGreaterThanOrEqual(1);
      expect(messages.length).toBeLessThanOrEqual(10);
      expect(size(body)).toBeLessThan(4096);
    }
  });

  it('keeps a short list whole', () => {
    const { body } = toErrorResponse(new BadRequestException(['username is required', 'password is required']));
    expect(body).toEqual({ statusCode: 400, error: 'Bad Request', message: ['username is required', 'password is required'] });
  });

  it('cuts a long single message, and an OAuth description, below 4 kB', () => {
    const long = `Cannot GET /${'x'.repeat(20_000)}`;
    const plain = toErrorResponse(new NotFoundException(long), '/x');
    expect((plain.body as { message: string }).message).toMatch(/^Cannot GET \/x+…$/);
    expect(size(plain.body)).toBeLessThan(4096);
    const oauth = toErrorResponse(new BadRequestException(Array.from({ length: 50 }, () => '\u0001'.repeat(5_000))), '/auth/token');
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
