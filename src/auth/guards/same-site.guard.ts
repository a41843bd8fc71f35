import { ForbiddenException, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { FastifyRequest } from 'fastify';
import type { AppConfig } from '../../config/app-config.js';

export const CROSS_SITE_REFUSED = 'Cross-site request refused';

/**
 * CSRF defence for the cookie-authenticated routes. SameSite=Strict already keeps the cookie off
 * cross-site requests in current browsers; this refuses them explicitly, from browsers that say
 * where a request comes from (Sec-Fetch-Site, Origin). Clients that send neither (curl, servers,
 * mobile apps) are not browsers and cannot be CSRF victims, so they pass.
 */
@Injectable()
export class SameSiteGuard implements CanActivate {
  private readonly allowedOrigins: Set<string>;
  private readonly ownOrigin: string;

  constructor(config: ConfigService<AppConfig, true>) {
    this.allowedOrigins = new Set(config.get('http', { infer: true }).corsOrigins);
    this.ownOrigin = new URL(config.get('auth', { infer: true }).issuer).origin;
  }

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const fetchSite = request.headers['sec-fetch-site'];
    if (fetchSite === 'cross-site') throw new ForbiddenException(CROSS_SITE_REFUSED);
    const origin = request.headers.origin;
    if (origin !== undefined && !this.isAllowed(origin, request)) {
      throw new ForbiddenException(`Origin ${origin} is not allowed; add it to CORS_ORIGINS`);
    }
    return true;
  }

  private isAllowed(origin: string, request: FastifyRequest): boolean {
    if (this.allowedOrigins.has(origin) || origin === this.ownOrigin) return true;
    // The page served by this very server (e.g. the demo at /) is same-origin whatever the issuer says.
    const host = request.headers.host;
    return host !== undefined && (origin === `http://${host}` || origin === `https://${host}`);
  }
}
