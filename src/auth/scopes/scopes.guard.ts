import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { BearerAuthException } from '../../common/http/bearer-auth.exception.js';
import { InsufficientScopeException } from '../../common/http/insufficient-scope.exception.js';
import type { AccessTokenPrincipal } from '../decorators/current-user.decorator.js';
import { BEARER_REALM } from '../guards/jwt-auth.guard.js';

/** Metadata key of @Scopes(): the scopes a route requires. */
export const REQUIRED_SCOPES_KEY = 'requiredScopes';

/**
 * Runs after the global JWT guard (route guards come after global ones), so the token is valid
 * already: it only checks that the token carries every scope @Scopes() names on the class and
 * the handler; else 403 `insufficient_scope` (RFC 6750 §3.1).
 */
@Injectable()
export class ScopesGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const required = [
      ...new Set(
        this.reflector.getAllAndMerge<string[]>(REQUIRED_SCOPES_KEY, [context.getClass(), context.getHandler()]) ?? [],
      ),
    ];
    if (!required.length) return true;
    const principal = context.switchToHttp().getRequest<{ user?: AccessTokenPrincipal }>().user;
    // A @Public() route has no principal: a scope can only be shown with a token.
    if (!principal?.scopes) throw new BearerAuthException(BEARER_REALM);
    if (required.every((scope) => principal.scopes.includes(scope))) return true;
    throw new InsufficientScopeException(BEARER_REALM, required);
  }
}
