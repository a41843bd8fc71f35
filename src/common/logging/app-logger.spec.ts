import { describe, expect, it } from '@jest/globals';
import { createAppLogger, PinoLoggerService } from './app-logger.js';

function capture(level: string, format?: 'json' | 'pretty') {
  const out: string[] = [];
  const logger = createAppLogger(level, { format, destination: { write: (chunk: string) => out.push(chunk) } });
  return { logger, out };
}

describe('createAppLogger', () => {
  it('writes one JSON object per line by default, with secrets redacted', () => {
    const { logger, out } = capture('info');
    logger.info({ req: { headers: { authorization: 'Bearer abc' } } }, 'hello');
    expect(out).toHaveLength(1);
    expect(JSON.parse(out[0])).toMatchObject({
      level: 30,
      msg: 'hello',
      service: 'nest-token-auth',
      req: { headers: { authorization: '[redacted]' } },
    });
  });

  it('writes human lines when pretty: time, level, context and message, no JSON', () => {
    const { logger, out } = capture('info', 'pretty');
    logger.info({ context: 'KeysService' }, 'Generated a new RS256 signing key');
    const text = out.join('');
    expect(text).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: KeysService: Generated a new RS256 signing key\n$/);
  });

  it('redacts in pretty output too', () => {
    const { logger, out } = capture('info', 'pretty');
    logger.info({ body: { password: 'hunter2' } }, 'login');
    expect(out.join('')).not.toContain('hunter2');
  });
});

describe('PinoLoggerService', () => {
  it("moves Nest's start-up chatter to debug and keeps other contexts at info", () => {
    const { logger, out } = capture('info');
    const nest = new PinoLoggerService(logger);
    nest.log('AppModule dependencies initialized', 'InstanceLoader');
    nest.log('Mapped {/auth/me, GET} route', 'RouterExplorer');
    nest.log('Nest application successfully started', 'NestApplication');
    nest.log('Generated a new key', 'KeysService');
    expect(out.map((line) => (JSON.parse(line) as { msg: string }).msg)).toEqual(['Generated a new key']);
  });

  it('logs an Error with its message and stack, not just its own fields', () => {
    const { logger, out } = capture('info');
    const error = Object.assign(new Error('mkdir failed'), { code: 'EACCES' });
    new PinoLoggerService(logger).error(error, 'SomeService');
    const line = JSON.parse(out[0]);
    expect(line).toMatchObject({ level: 50, context: 'SomeService', err: { message: 'mkdir failed', code: 'EACCES' } });
    expect(line.err.stack).toContain('mkdir failed');
  });

  it('leaves start-up errors that Nest hands back to the caller to the caller (main.ts prints them once)', () => {
    const { logger, out } = capture('info');
    const nest = new PinoLoggerService(logger);
    nest.error(new Error('boom'), 'ExceptionHandler');
    nest.error('Error: listen EADDRINUSE: address already in use 127.0.0.1:3000', 'NestApplication');
    expect(out).toEqual([]);
  });
});
