import { Injectable, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import { BearerAuthException } from '../../common/http/bearer-auth.exception.js';
import type { AccessTokenPrincipal } from '../decorators/current-user.decorator.js';
import { IS_PUBLIC_KEY } from '../decorators/public.decorator.js';
import { JwtStrategy } from '../strategies/jwt.strategy.js';

export const BEARER_REALM = 'nest-token-auth';

/** Global guard: every route needs a valid Bearer access token unless it is marked @Public(). */
@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
  constructor(
    private readonly reflector: Reflector,
    private readonly jwt: JwtStrategy,
  ) {
    super();
  }

  /** @Public() by controller class, then handler: metadata does not change, and this runs per request. */
  private readonly publicRoutes = new WeakMap<object, WeakMap<object, boolean>>();

  override canActivate(context: ExecutionContext) {
    if (this.isPublic(context)) return true;
    // A token verified before needs only the session check: done here, passport is skipped (see
    // JwtStrategy.principalForVerifiedToken); the outcome goes through handleRequest as before.
    const request = context.switchToHttp().getRequest<object>();
    const known = this.jwt.principalForVerifiedToken(request);
    if (known === undefined) return super.canActivate(context);
    if (!(known instanceof Promise)) return this.accept(request, known, context);
    return known.then(
      (principal) => this.accept(request, principal, context),
      (error: unknown) => this.accept(request, false, context, error),
    );
  }

  private isPublic(context: ExecutionContext): boolean {
    const handler = context.getHandler();
    const controller = context.getClass();
    let routes = this.publicRoutes.get(controller);
    if (!routes) this.publicRoutes.set(controller, (routes = new WeakMap()));
    let isPublic = routes.get(handler);
    if (isPublic === undefined) {
      isPublic = this.reflector.getAllAndOverride<boolean | undefined>(IS_PUBLIC_KEY, [handler, controller]) === true;
      routes.set(handler, isPublic);
    }
    return isPublic;
  }

  /** What passport's callback and AuthGuard.canActivate do with the outcome: request.user, or the 401. */
  private accept(
    request: object,
    principal: AccessTokenPrincipal | false,
    context: ExecutionContext,
    error: unknown = null,
  ): boolean {
    // handleRequest returns only a principal (it throws on false).
    (request as { user?: unknown }).user = this.handleRequest<unknown>(error, principal, undefined, context);
    return true;
  }

  override handleRequest<T>(err: unknown, user: T, _info: unknown, context: ExecutionContext): T {
    if (user && !err) return user;
    const authorization = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>()
      .headers.authorization;
    const presented = typeof authorization === 'string' && /^Bearer\s+\S/i.test(authorization);
    throw new BearerAuthException(BEARER_REALM, presented ? 'invalid_token' : undefined);
  }
}
