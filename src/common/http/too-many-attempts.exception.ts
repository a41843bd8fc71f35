import { HttpException, HttpStatus } from '@nestjs/common';

/** 429 with `Retry-After` (seconds). */
export class TooManyAttemptsException extends HttpException {
  constructor(
    readonly retryAfterSeconds: number,
    what = 'failed login attempts',
  ) {
    super(`Too many ${what}; try again in ${retryAfterSeconds} s`, HttpStatus.TOO_MANY_REQUESTS);
  }
}
