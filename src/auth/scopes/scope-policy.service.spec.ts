import { describe, expect, it } from '@jest/globals';
import { ConfigService } from '@nestjs/config';
import { InvalidScopeError } from '../../common/scope.js';
import type { AppConfig } from '../../config/app-config.js';
import { loadConfig } from '../../config/env.validation.js';
import { ScopePolicyService } from './scope-policy.service.js';

function policy(allowed?: string): ScopePolicyService {
  const config = loadConfig(allowed === undefined ? {} : { ALLOWED_SCOPES: allowed });
  return new ScopePolicyService(new ConfigService<AppConfig, true>(config));
}

describe('ScopePolicyService', () => {
  const scopes = policy('notes:read notes:write profile');

  it('normalises a request to ALLOWED_SCOPES order, each scope once', () => {
    expect(scopes.requested('profile notes:read profile')).toEqual(['notes:read', 'profile']);
    expect(scopes.requested(undefined)).toEqual([]);
    expect(scopes.requested('  ')).toEqual([]);
  });

  it('refuses a scope not allowed, naming it, and a malformed one', () => {
    expect(() => scopes.requested('notes:read admin openid')).toThrow(
      new InvalidScopeError('Scope "admin", "openid" is not allowed on this server'),
    );
    expect(() => scopes.requested('notes:READ')).toThrow(InvalidScopeError);
    expect(() => scopes.requested('"notes:read"')).toThrow(InvalidScopeError);
  });

  it('refuses every scope when ALLOWED_SCOPES is unset', () => {
    expect(policy().supported()).toEqual([]);
    expect(() => policy().requested('notes:read')).toThrow(InvalidScopeError);
    expect(policy().requested('')).toEqual([]);
  });

  it('issues a grant less the scopes no longer allowed; nothing for an empty one', () => {
    expect(scopes.effective(['profile', 'notes:read'])).toBe('notes:read profile');
    expect(policy('profile').effective(['notes:read', 'profile'])).toBe('profile');
    expect(policy('profile').effective(['notes:read'])).toBeUndefined();
    expect(scopes.effective([])).toBeUndefined();
  });
});
