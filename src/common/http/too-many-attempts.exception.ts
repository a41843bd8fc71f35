import { HttpException, HttpStatus } from '@nestjs/common';

/** 429 with `Retry-After` (seconds). */
export class TooManyAttemptsException extends HttpException {
  constructor(readonly retryAfterSeconds: number) {
    super(`Too many failed login attempts; try again in ${retryAfterSeconds} s`, HttpStatus.TOO_MANY_REQUESTS);
  }
}
