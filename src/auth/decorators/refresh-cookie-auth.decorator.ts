import { applyDecorators, HttpStatus, UseGuards } from '@nestjs/common';
import { ApiCookieAuth } from '@nestjs/swagger';
import { ApiErrorResponse } from '../../common/http/error-response.dto.js';
import { CROSS_SITE_REFUSED, SameSiteGuard } from '../guards/same-site.guard.js';
import { Public } from './public.decorator.js';

/**
 * A route whose credential is the refresh cookie, read by the handler: no access token, and
 * cross-site browser requests refused (the cookie would otherwise make them CSRF), documented
 * with the cookie scheme and that 403.
 */
export const RefreshCookieAuth = () =>
  applyDecorators(
    Public(),
    UseGuards(SameSiteGuard),
    ApiCookieAuth(),
    ApiErrorResponse(HttpStatus.FORBIDDEN, 'Cross-site browser request (CSRF defence)', {
      message: CROSS_SITE_REFUSED,
    }),
  );
