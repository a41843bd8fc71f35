import type { LoggerService } from '@nestjs/common';
import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';

/** Never logged: credentials and tokens wherever they may appear in a log object. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.password',
  '*.currentPassword',
  '*.newPassword',
  '*.token',
  '*.access_token',
  '*.refresh_token',
  '*.refreshToken',
  '*.accessToken',
  '*.client_secret',
  '*.clientSecret',
];

export interface AppLoggerOptions {
  /** `json` (default): one object per line, for machines. `pretty`: one human line per entry. */
  format?: 'json' | 'pretty';
  /** Where lines go; stdout by default (tests capture them). */
  destination?: DestinationStream;
}

/** One logger for Fastify's request logs, Nest's own logs and audit events. */
export function createAppLogger(level: string, { format = 'json', destination }: AppLoggerOptions = {}): Logger {
  const options = {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: 'nest-token-auth' },
  };
  if (format === 'json') return destination ? pino(options, destination) : pino(options);
  // Loaded only when asked for (development), so production start-up does not pay for it.
  // prettyFactory formats a line synchronously in the main thread: no worker thread, no stream
  // pipeline, so a line logged just before process.exit is not lost.
  const { prettyFactory } = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
  const prettify = prettyFactory({
    colorize: !destination && process.stdout.isTTY,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service,context',
    messageFormat: '{if context}{context}: {end}{msg}',
  });
  const out = destination ?? pino.destination({ fd: 1, sync: true });
  return pino(options, { write: (line: string) => out.write(prettify(line)) });
}

/**
 * Nest's start-up chatter (every module loaded, every route mapped: ~40 lines) is for debugging,
 * not for the person starting the service; the start-up summary line says what matters.
 * NestApplication's own lines go too: "successfully started" comes before `listen` has
 * succeeded, and its `listen` errors are reported by main.ts, once, with what to do.
 */
const CHATTY_CONTEXTS = new Set([
  'NestFactory',
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestApplication',
]);

/**
 * Errors Nest logs and then hands back to the caller (with `abortOnError: false`): start-up
 * failures, which main.ts reports itself, once.
 */
const REPORTED_BY_CALLER = new Set(['NestApplication', 'ExceptionHandler']);

/** Routes Nest's Logger (including `new Logger(Context).log(...)`) into pino. */
export class PinoLoggerService implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, context?: string): void {
    this.write(context && CHATTY_CONTEXTS.has(context) ? 'debug' : 'info', message, context);
  }
  error(message: unknown, stackOrContext?: string, context?: string): void {
    const ctx = context ?? stackOrContext;
    const stack = context ? stackOrContext : undefined;
    this.write(ctx && REPORTED_BY_CALLER.has(ctx) ? 'debug' : 'error', message, ctx, stack);
  }
  warn(message: unknown, context?: string): void {
    this.write('warn', message, context);
  }
  debug(message: unknown, context?: string): void {
    this.write('debug', message, context);
  }
  verbose(message: unknown, context?: string): void {
    this.write('trace', message, context);
  }
  fatal(message: unknown, context?: string): void {
    this.write('fatal', message, context);
  }

  private write(
    level: 'info' | 'error' | 'warn' | 'debug' | 'trace' | 'fatal',
    message: unknown,
    context?: string,
    stack?: string,
  ): void {
    if (message instanceof Error) {
      // Spread, an Error keeps only its own enumerable fields (`code`, not `message` or `stack`).
      this.logger[level]({ context, err: message });
    } else if (typeof message === 'object' && message !== null) {
      this.logger[level]({ context, ...message, ...(stack ? { stack } : {}) });
    } else {
      this.logger[level]({ context, ...(stack ? { stack } : {}) }, String(message));
    }
  }
}
