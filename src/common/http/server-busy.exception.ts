import { HttpException, HttpStatus } from '@nestjs/common';

/**
 * 503 with `Retry-After` (seconds): the server refused work it has no capacity for right now,
 * rather than queueing it without bound. Nothing was done; the same request may be retried.
 */
export class ServerBusyException extends HttpException {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message, HttpStatus.SERVICE_UNAVAILABLE);
  }
}
