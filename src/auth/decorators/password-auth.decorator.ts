import { applyDecorators, HttpStatus, UseGuards } from '@nestjs/common';
import { ApiBody } from '@nestjs/swagger';
import { ApiErrorResponse, RETRY_AFTER_HEADER } from '../../common/http/error-response.dto.js';
import { LoginDto } from '../dto/credentials.dto.js';
import { LocalAuthGuard } from '../guards/local-auth.guard.js';
import { CROSS_SITE_REFUSED, SameSiteGuard } from '../guards/same-site.guard.js';
import { INVALID_CREDENTIALS } from '../strategies/local.strategy.js';
import { Public } from './public.decorator.js';

/**
 * A route that takes a username and password in its body: the guards check them (the handler
 * gets the user from @CurrentUser()), so the body and every refusal are documented here.
 */
export const PasswordAuth = () =>
  applyDecorators(
    Public(),
    // SameSiteGuard first: a cross-site form must not log the victim's browser into another account.
    UseGuards(SameSiteGuard, LocalAuthGuard),
    ApiBody({ type: LoginDto }),
    ApiErrorResponse(
      HttpStatus.BAD_REQUEST,
      'Invalid body: one message per invalid field; or a `scope` not in ALLOWED_SCOPES (one message)',
      {
        message: ['username must be longer than or equal to 1 characters'],
      },
    ),
    ApiErrorResponse(HttpStatus.UNAUTHORIZED, 'Wrong username or password (the same answer for unknown users)', {
      message: INVALID_CREDENTIALS,
    }),
    ApiErrorResponse(HttpStatus.FORBIDDEN, 'Cross-site browser request (login CSRF defence)', {
      message: CROSS_SITE_REFUSED,
    }),
    ApiErrorResponse(
      HttpStatus.TOO_MANY_REQUESTS,
      'Too many failed attempts or password checks for this IP or username, or too many at once from it; see Retry-After',
      {
        headers: RETRY_AFTER_HEADER,
      },
    ),
  );
