import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppConfig } from '../config/app-config.js';

export const REFRESH_COOKIE = 'refresh_token';
const COOKIE_PATH = '/auth';

/**
 * Most `refresh_token` cookies a request may carry and still be looked at. Ours plus a planted
 * one or two is a real browser; more is someone making each request cost a lookup per cookie
 * and audit writes. Beyond it the request is refused (401, cookies cleared) without a lookup.
 */
export const MAX_REFRESH_COOKIES = 8;

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

  /**
   * Every `refresh_token` cookie the request carries, in the order sent. @fastify/cookie keeps
   * only the first of several; a second one means someone who can set cookies for this host
   * (a sibling subdomain, plain HTTP) planted theirs beside ours, so callers refuse it.
   */
  readAll(request: FastifyRequest): string[] {
    const header = request.headers.cookie;
    if (!header || header.indexOf(REFRESH_COOKIE) === header.lastIndexOf(REFRESH_COOKIE)) {
      const single = this.read(request);
      return single === undefined ? [] : [single];
    }
    const values: string[] = [];
    for (const pair of header.split(';')) {
      const eq = pair.indexOf('=');
      if (eq === -1 || pair.slice(0, eq).trim() !== REFRESH_COOKIE) continue;
      values.push(cookieValue(pair.slice(eq + 1)));
    }
    return values;
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

  /**
   * Clears ours (Path=/auth) and one planted at Path=/. A planted cookie with another Domain or
   * a longer path cannot be named from here; it keeps being refused instead.
   */
  clearEverywhere(reply: FastifyReply): void {
    this.clear(reply);
    reply.clearCookie(REFRESH_COOKIE, { httpOnly: true, sameSite: 'strict', path: '/', secure: this.secure });
  }
}

/** A cookie value as the `cookie` package decodes it: trimmed, unquoted, percent-decoded when valid. */
function cookieValue(raw: string): string {
  let value = raw.trim();
  if (value.length > 1 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
