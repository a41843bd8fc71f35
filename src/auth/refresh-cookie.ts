import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppConfig } from '../config/app-config.js';

export const REFRESH_COOKIE = 'refresh_token';
const COOKIE_PATH = '/auth';

/**
 * The refresh token travels only in this cookie: HttpOnly so page scripts never see it,
 * SameSite=Strict and Path=/auth so browsers send it nowhere else.
 */
@Injectable()
export class RefreshCookie {
  private readonly secure: boolean;

  constructor(config: ConfigService<AppConfig, true>) {
    this.secure = config.get('http', { infer: true }).cookieSecure;
  }

  read(request: FastifyRequest): string | undefined {
    return request.cookies?.[REFRESH_COOKIE];
  }

  set(reply: FastifyReply, token: string, expiresAt: number, now = Date.now()): void {
    reply.setCookie(REFRESH_COOKIE, token, {
      httpOnly: true,
      sameSite: 'strict',
      path: COOKIE_PATH,
      secure: this.secure,
      // Never longer than the token lives, but never 0 either: Max-Age=0 would delete a token
      // that is still valid for a few hundred milliseconds.
      maxAge: Math.max(1, Math.floor((expiresAt - now) / 1000)),
    });
  }

  clear(reply: FastifyReply): void {
    reply.clearCookie(REFRESH_COOKIE, { httpOnly: true, sameSite: 'strict', path: COOKIE_PATH, secure: this.secure });
  }
}

/** Responses that carry a token must never be cached (RFC 6749 §5.1). */
export function noStore(reply: FastifyReply): void {
  reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
}
