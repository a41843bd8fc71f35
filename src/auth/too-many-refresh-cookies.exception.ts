import { UnauthorizedException } from '@nestjs/common';
import { MAX_REFRESH_COOKIES, REFRESH_COOKIE } from './refresh-cookie.js';

/** 401 for a request with more than MAX_REFRESH_COOKIES refresh cookies: none of them was read. */
export class TooManyRefreshCookiesException extends UnauthorizedException {
  constructor() {
    super(`More than ${MAX_REFRESH_COOKIES} ${REFRESH_COOKIE} cookies were sent; log in again`);
  }
}
