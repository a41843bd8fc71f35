import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { formatScope, InvalidScopeError, parseScope } from '../../common/scope.js';
import type { AppConfig } from '../../config/app-config.js';

/** What ALLOWED_SCOPES lets a client ask for, and what a stored grant is still worth. */
@Injectable()
export class ScopePolicyService {
  private readonly allowed: readonly string[];

  constructor(config: ConfigService<AppConfig, true>) {
    this.allowed = config.get('auth', { infer: true }).allowedScopes;
  }

  /** ALLOWED_SCOPES, for the server metadata; [] when unset. */
  supported(): readonly string[] {
    return this.allowed;
  }

  /**
   * The tokens of a requested scope, normalised (each once, in ALLOWED_SCOPES order); [] when
   * nothing was asked for. Throws InvalidScopeError for a malformed token or one not allowed.
   */
  requested(raw: string | null | undefined): string[] {
    const tokens = parseScope(raw);
    const unknown = tokens.filter((token) => !this.allowed.includes(token));
    if (unknown.length) {
      throw new InvalidScopeError(
        `Scope ${unknown.map((token) => `"${token}"`).join(', ')} is not allowed on this server`,
      );
    }
    return this.allowed.filter((token) => tokens.includes(token));
  }

  /**
   * The `scope` an access token of this grant carries: the grant less any scope since removed
   * from ALLOWED_SCOPES (so removing one takes effect at the next refresh); undefined for none.
   */
  effective(tokens: readonly string[]): string | undefined {
    return formatScope(this.allowed.filter((token) => tokens.includes(token)));
  }
}
