import { describe, expect, it, jest } from '@jest/globals';
import Fastify from 'fastify';
import { createAppLogger } from './app-logger.js';
import { lazyChildLoggerFactory, LazyRequestLogger } from './lazy-request-logger.js';

function capture(level: string) {
  const out: Record<string, unknown>[] = [];
  const logger = createAppLogger(level, { destination: { write: (chunk: string) => out.push(JSON.parse(chunk)) } });
  return { logger, out };
}

describe('LazyRequestLogger', () => {
  it('writes what the eager child wrote: bindings, fields, message, redaction', () => {
    const { logger, out } = capture('info');
    new LazyRequestLogger(logger, { reqId: 'req-1' }).warn({ body: { token: 'secret' } }, 'slow');
    logger.child({ reqId: 'req-1' }).warn({ body: { token: 'secret' } }, 'slow');
    expect(out).toHaveLength(2);
    const [lazy, eager] = out.map(({ time: _time, ...line }) => line);
    expect(lazy).toEqual(eager);
    expect(lazy).toMatchObject({ reqId: 'req-1', msg: 'slow', body: { token: '[redacted]' }, level: 40 });
  });

  it('makes no child for a level the logger does not write, and one child for all later lines', () => {
    const { logger, out } = capture('info');
    const child = jest.spyOn(logger, 'child');
    const log = new LazyRequestLogger(logger, { reqId: 'req-2' });
    log.debug('not written');
    log.trace('not written');
    expect(child).not.toHaveBeenCalled();
    log.info('one');
    log.error('two');
    expect(child).toHaveBeenCalledTimes(1);
    expect(out.map((l) => l.msg)).toEqual(['one', 'two']);
    expect(log.level).toBe('info');
  });

  it('makes the child at once when Fastify passes options (a route-level log level)', () => {
    const { logger } = capture('info');
    const made = lazyChildLoggerFactory(logger, { reqId: 'req-3' }, { level: 'debug' });
    expect(made).not.toBeInstanceOf(LazyRequestLogger);
    expect(made.level).toBe('debug');
  });

  it('is accepted by Fastify as request.log, with the request id bound', async () => {
    const { logger, out } = capture('info');
    const app = Fastify({
      loggerInstance: logger,
      childLoggerFactory: lazyChildLoggerFactory,
      disableRequestLogging: true,
    });
    app.get('/', (request, reply) => {
      request.log.info('handled');
      return reply.send({ ok: true });
    });
    const res = await app.inject({ method: 'GET', url: '/' });
    await app.close();
    expect(res.statusCode).toBe(200);
    expect(out.find((l) => l.msg === 'handled')).toMatchObject({ reqId: expect.stringMatching(/^req-/) });
  });
});
