import { HttpException, Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { errorHeaders } from '../http-adapters.js';
import type { Principal } from '../principal.js';
import { TokenError } from '../token-error.js';
import type { TokenVerifier } from '../token-verifier.js';
import { IS_PUBLIC_KEY, ROLES_KEY, SCOPES_KEY, TOKEN_VERIFIER } from './resource-server.constants.js';

interface HttpRequest {
  headers: Record<string, string | string[] | undefined>;
  auth?: Principal;
}

/** Express's res.setHeader, or Fastify's reply.header. */
interface HttpResponse {
  setHeader?: (name: string, value: string) => unknown;
  header?: (name: string, value: string) => unknown;
}

/**
 * The global guard: every HTTP route needs a valid access token unless marked @Public(), and
 * meets its @Roles() (any of) and @Scopes() (all of). Sets `request.auth`. Refusals become an
 * HttpException with the RFC 6750 body and the WWW-Authenticate header already on the response,
 * so the app's exception filter decides the final shape. Other contexts (WebSockets, RPC) are
 * refused unless @Public(): this guard cannot read their credentials, and letting them through
 * would leave them open without anyone deciding so.
 */
@Injectable()
export class ResourceServerGuard implements CanActivate {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(TOKEN_VERIFIER) private readonly verifier: TokenVerifier,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean | undefined>(IS_PUBLIC_KEY, targets)) return true;
    if (context.getType() !== 'http') return false;
    const roles = this.reflector.getAllAndOverride<string[] | undefined>(ROLES_KEY, targets);
    // The controller's scopes first, then the handler's: the order the challenge lists them in.
    const scopes = [
      ...new Set(this.reflector.getAllAndMerge<string[]>(SCOPES_KEY, [context.getClass(), context.getHandler()])),
    ];
    const http = context.switchToHttp();
    const request = http.getRequest<HttpRequest>();
    const authorization = request.headers.authorization;
    try {
      request.auth = await this.verifier.authenticate(typeof authorization === 'string' ? authorization : undefined, {
        roles,
        scopes: scopes.length ? scopes : undefined,
      });
      return true;
    } catch (error) {
      if (!(error instanceof TokenError)) throw error;
      const response = http.getResponse<HttpResponse>();
      for (const [name, value] of Object.entries(errorHeaders(error))) {
        if (typeof response.setHeader === 'function') response.setHeader(name, value);
        else response.header?.(name, value);
      }
      throw new HttpException(error.body, error.status, { cause: error });
    }
  }
}
