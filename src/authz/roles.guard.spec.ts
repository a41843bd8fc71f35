import { describe, expect, it } from '@jest/globals';
import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { AccessTokenPrincipal } from '../auth/decorators/current-user.decorator.js';
import { BearerAuthException } from '../common/http/bearer-auth.exception.js';
import { InsufficientScopeException } from '../common/http/insufficient-scope.exception.js';
import { toErrorResponse } from '../common/filters/all-exceptions.filter.js';
import { Roles } from './roles.decorator.js';
import { RolesGuard } from './roles.guard.js';

class Routes {
  @Roles('admin')
  adminOnly() {}

  @Roles('auditor', 'admin')
  either() {}

  open() {}
}

@Roles('admin')
class AdminRoutes {
  @Roles('auditor')
  audit() {}

  plain() {}
}

const guard = new RolesGuard(new Reflector());

function context(handler: keyof Routes, roles?: string[], routes: object = Routes): ExecutionContext {
  const user: AccessTokenPrincipal | undefined = roles && {
    userId: 'u',
    username: 'alice',
    sessionId: 's',
    tokenId: 'j',
    roles,
    scopes: [],
  };
  return {
    getHandler: () => (routes as { prototype: Record<string, unknown> }).prototype[handler],
    getClass: () => routes,
    switchToHttp: () => ({ getRequest: () => ({ user }) }),
  } as unknown as ExecutionContext;
}

describe('RolesGuard', () => {
  it('lets a token with the role through, and one with any of several', () => {
    expect(guard.canActivate(context('adminOnly', ['admin']))).toBe(true);
    expect(guard.canActivate(context('either', ['auditor']))).toBe(true);
  });

  it('refuses a valid token without the role with 403 insufficient_scope in our realm', () => {
    expect(() => guard.canActivate(context('adminOnly', []))).toThrow(InsufficientScopeException);
    expect(() => guard.canActivate(context('adminOnly', ['administrator', 'auditor']))).toThrow(
      InsufficientScopeException,
    );
    try {
      guard.canActivate(context('adminOnly', ['user']));
    } catch (error) {
      const { status, headers } = toErrorResponse(error, '/reports');
      expect(status).toBe(403);
      expect(headers['WWW-Authenticate']).toBe(
        'Bearer realm="nest-token-auth", error="insufficient_scope", error_description="The access token does not grant access to this resource"',
      );
    }
    expect.assertions(4);
  });

  it('asks for a token (401) when a route demands a role and there is no principal', () => {
    expect(() => guard.canActivate(context('adminOnly'))).toThrow(BearerAuthException);
  });

  it("holds a controller's @Roles() for every route in it; a handler's adds to it, not replaces it", () => {
    const admin = (handler: string, roles: string[]) => context(handler as keyof Routes, roles, AdminRoutes);
    expect(guard.canActivate(admin('plain', ['admin']))).toBe(true);
    expect(() => guard.canActivate(admin('plain', ['auditor']))).toThrow(InsufficientScopeException);
    expect(() => guard.canActivate(admin('audit', ['auditor']))).toThrow(InsufficientScopeException);
    expect(() => guard.canActivate(admin('audit', ['admin']))).toThrow(InsufficientScopeException);
    expect(guard.canActivate(admin('audit', ['admin', 'auditor']))).toBe(true);
  });

  it('leaves routes without @Roles() alone', () => {
    expect(guard.canActivate(context('open', []))).toBe(true);
  });
});
