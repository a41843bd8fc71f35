import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { StartupError } from '../../common/startup-error.js';
import { AccessTokenClaimsError } from './access-token-claims.error.js';
import {
  ACCESS_TOKEN_CLAIMS,
  RESERVED_ACCESS_TOKEN_CLAIMS,
  type AccessTokenClaimsContext,
  type AccessTokenClaimsProvider,
} from './access-token-claims.provider.js';

const logger = new Logger('AccessTokenClaims');

interface DiscoveredProvider {
  /** `Module/Provider`, for the log line that names a provider at fault. */
  label: string;
  provider: AccessTokenClaimsProvider;
}

/**
 * Finds every provider registered under ACCESS_TOKEN_CLAIMS, in any module, and merges what they
 * return into one set of extra claims. Nest has no multi-providers: the same token registered in
 * several modules is several providers, one per module, which discovery sees and a plain
 * `@Inject(ACCESS_TOKEN_CLAIMS)` would not (it resolves one, or none outside that module).
 */
@Injectable()
export class AccessTokenClaimsService implements OnModuleInit {
  private providers: readonly DiscoveredProvider[] = [];

  constructor(private readonly discovery: DiscoveryService) {}

  /** Every instance exists by now (Nest creates them all before the first init hook). */
  onModuleInit(): void {
    this.providers = this.discovery
      .getProviders()
      .filter((wrapper) => wrapper.token === ACCESS_TOKEN_CLAIMS)
      .map((wrapper) => {
        const instance: unknown = wrapper.instance;
        const label = `${wrapper.host?.name ?? '?'}/${providerName(instance)}`;
        // A request-scoped or transient provider has no instance to call from a service that
        // signs outside any request's scope; say so now rather than at the first login.
        if (!wrapper.isDependencyTreeStatic() || wrapper.isTransient)
          throw new StartupError(
            `The access-token claims provider ${label} must be a singleton (default scope), not request-scoped or transient`,
          );
        if (typeof (instance as Partial<AccessTokenClaimsProvider> | null)?.claims !== 'function')
          throw new StartupError(
            `The access-token claims provider ${label} has no claims(context) method (see AccessTokenClaimsProvider)`,
          );
        return { label, provider: instance as AccessTokenClaimsProvider };
      });
    // Which modules shape the tokens is worth one line at start-up: a refusal later names one of these.
    if (this.enabled) logger.log(`Access tokens carry claims from ${this.labels.join(', ')}`);
  }

  /** True when some module registered a provider; when false, signing skips building a context at all. */
  get enabled(): boolean {
    return this.providers.length > 0;
  }

  /** `Module/Provider` of each provider found, in the order they run. */
  get labels(): string[] {
    return this.providers.map(({ label }) => label);
  }

  /**
   * Runs every provider (concurrently) and returns their claims merged. Throws
   * AccessTokenClaimsError when one throws, returns anything but a plain object of JSON values,
   * sets a reserved claim, or sets a claim another provider also set (which one would win
   * depends on module order: no silent winner).
   */
  async collect(context: AccessTokenClaimsContext): Promise<Record<string, unknown>> {
    const results = await Promise.all(
      this.providers.map(async ({ label, provider }) => {
        let result: unknown;
        try {
          result = await provider.claims(context);
        } catch (error) {
          throw new AccessTokenClaimsError(label, `threw: ${oneLine(error)}`);
        }
        return { label, claims: checked(label, result) };
      }),
    );
    const merged: Record<string, unknown> = {};
    const setBy = new Map<string, string>();
    for (const { label, claims } of results) {
      for (const name of Object.keys(claims)) {
        const other = setBy.get(name);
        if (other !== undefined)
          throw new AccessTokenClaimsError(label, `set the claim "${name}", which ${other} sets too`);
        setBy.set(name, label);
      }
      Object.assign(merged, claims);
    }
    return merged;
  }
}

/**
 * The provider's result, copied, once it is known to be a plain object of JSON values with no
 * reserved name. Copied (by JSON) so that what is checked is what is signed: a getter or a
 * later change to the provider's object cannot slip a reserved claim or a non-JSON value in.
 */
function checked(label: string, result: unknown): Record<string, unknown> {
  if (typeof result !== 'object' || result === null || Array.isArray(result))
    throw new AccessTokenClaimsError(label, `returned ${kindOf(result)} instead of an object of claims`);
  const prototype: unknown = Object.getPrototypeOf(result);
  if (prototype !== Object.prototype && prototype !== null)
    throw new AccessTokenClaimsError(label, `returned ${kindOf(result)} instead of a plain object of claims`);
  let copy: unknown;
  try {
    // JSON.parse makes `__proto__` an own key, as any JWT consumer's parser does, so the check sees it.
    copy = JSON.parse(JSON.stringify(result));
  } catch (error) {
    throw new AccessTokenClaimsError(label, `returned claims that are not JSON: ${oneLine(error)}`);
  }
  // An own toJSON() may have turned the object into something else.
  if (typeof copy !== 'object' || copy === null || Array.isArray(copy))
    throw new AccessTokenClaimsError(
      label,
      `returned an object whose JSON is ${kindOf(copy)}, not an object of claims`,
    );
  const reserved = Object.keys(copy).filter((name) => RESERVED_ACCESS_TOKEN_CLAIMS.has(name));
  if (reserved.length)
    throw new AccessTokenClaimsError(
      label,
      `set the reserved claim${reserved.length > 1 ? 's' : ''} ${reserved.map((name) => `"${name}"`).join(', ')}`,
    );
  return copy as Record<string, unknown>;
}

/** The instance's class; the token for plain objects (`useValue`, `useFactory`), which have none worth naming. */
function providerName(instance: unknown): string {
  const constructorName = (instance as { constructor?: { name?: string } } | null)?.constructor?.name;
  return constructorName && constructorName !== 'Object' ? constructorName : ACCESS_TOKEN_CLAIMS;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object')
    return `a ${(value as { constructor?: { name?: string } }).constructor?.name ?? 'prototype-less object'}`;
  return typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`;
}

/** One line: a provider's error message may span several, and the log line must stay one. */
function oneLine(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.replace(/\s+/g, ' ').trim().slice(0, 300);
}
