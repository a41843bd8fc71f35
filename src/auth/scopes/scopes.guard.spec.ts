import { describe, expect, it } from '@jest/globals';
import { Controller, Get, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { BearerAuthException } from '../../common/http/bearer-auth.exception.js';
import { InsufficientScopeException } from '../../common/http/insufficient-scope.exception.js';
import type { AccessTokenPrincipal } from '../decorators/current-user.decorator.js';
import { Scopes } from './scopes.decorator.js';
import { ScopesGuard } from './scopes.guard.js';

@Controller()
@Scopes('notes:read')
class NotesController {
  @Get()
  list() {}

  @Get()
  @Scopes('notes:write', 'notes:read')
  write() {}
}

@Controller()
class OpenController {
  @Get()
  open() {}
}

function context(controller: new () => object, handler: string, scopes?: string[]): ExecutionContext {
  const user: Partial<AccessTokenPrincipal> | undefined = scopes && { userId: 'u', scopes };
  return {
    getClass: () => controller,
    getHandler: () => (controller.prototype as Record<string, unknown>)[handler],
    switchToHttp: () => ({ getRequest: () => ({ user }) }),
  } as unknown as ExecutionContext;
}

describe('ScopesGuard', () => {
  const guard = new ScopesGuard(new Reflector());

  it('lets through a route without @Scopes(), token or not', () => {
    expect(guard.canActivate(context(OpenController, 'open'))).toBe(true);
    expect(guard.canActivate(context(OpenController, 'open', []))).toBe(true);
  });

  it('lets through a token with every scope of the class and the handler', () => {
    expect(guard.canActivate(context(NotesController, 'list', ['notes:read']))).toBe(true);
    expect(guard.canActivate(context(NotesController, 'write', ['notes:write', 'notes:read', 'x']))).toBe(true);
  });

  it('refuses a token missing one, naming each required scope once', () => {
    expect(() => guard.canActivate(context(NotesController, 'list', []))).toThrow(InsufficientScopeException);
    try {
      guard.canActivate(context(NotesController, 'write', ['notes:read']));
      throw new Error('not refused');
    } catch (error) {
      expect(error).toBeInstanceOf(InsufficientScopeException);
      expect((error as InsufficientScopeException).requiredScopes).toEqual(['notes:read', 'notes:write']);
    }
  });

  it('answers a request without a principal with the 401 challenge', () => {
    expect(() => guard.canActivate(context(NotesController, 'list'))).toThrow(BearerAuthException);
  });
});

describe('@Scopes()', () => {
  it('refuses no scope or a malformed scope token when the module loads', () => {
    expect(() => Scopes()).toThrow('@Scopes()');
    expect(() => Scopes('notes:read notes:write')).toThrow('@Scopes()');
    expect(() => Scopes('a"b')).toThrow('@Scopes()');
  });
});
