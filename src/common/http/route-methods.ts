import FindMyWay from 'find-my-way';
import type { FastifyInstance } from 'fastify';
import { WrongMethodException } from './wrong-method.exception.js';

/**
 * Tells a wrong method on a known path (405 + `Allow`) from an unknown path (404). Fastify's
 * router cannot answer "which methods does this URL have": its 404 handler is a catch-all route
 * that matches every URL. So every route is also registered here, in a router of the same kind
 * and options (find-my-way, Fastify's own), which answers it exactly: the same decoding, the
 * same parameters and wildcards.
 */
export class RouteMethods {
  private readonly router: FindMyWay.Instance<FindMyWay.HTTPVersion.V1>;
  private readonly methods = new Set<string>();

  constructor(options: FindMyWay.Config<FindMyWay.HTTPVersion.V1> = {}) {
    this.router = FindMyWay(options);
  }

  /** Registers each route of `fastify` here as Fastify registers it (an `onRoute` hook). */
  static track(fastify: FastifyInstance): RouteMethods {
    const { ignoreTrailingSlash, ignoreDuplicateSlashes, caseSensitive, useSemicolonDelimiter, maxParamLength } =
      fastify.initialConfig as FindMyWay.Config<FindMyWay.HTTPVersion.V1> & { useSemicolonDelimiter?: boolean };
    // useSemicolonDelimiter is read by find-my-way but missing from its types.
    const options = {
      ignoreTrailingSlash,
      ignoreDuplicateSlashes,
      caseSensitive,
      useSemicolonDelimiter,
      maxParamLength,
    };
    const routes = new RouteMethods(options);
    fastify.addHook('onRoute', (route) => routes.add(route.method, route.url ?? route.path));
    return routes;
  }

  add(method: string | string[], url: string): void {
    for (const one of Array.isArray(method) ? method : [method]) {
      const upper = one.toUpperCase();
      // A route Fastify accepted is one we can hold; a duplicate here (e.g. HEAD added twice) is harmless.
      try {
        this.router.on(upper as FindMyWay.HTTPMethod, url, () => undefined);
        this.methods.add(upper);
      } catch {
        // already registered
      }
    }
  }

  /** The methods `url` (path and query, as received) answers, in a stable order; empty for an unknown path. */
  allowed(url: string): string[] {
    return [...this.methods].filter((method) => this.router.find(method as FindMyWay.HTTPMethod, url) !== null).sort();
  }

  /**
   * For an unmatched request: a WrongMethodException when its path has other methods, else
   * undefined (a plain 404).
   */
  wrongMethod(method: string, url: string): WrongMethodException | undefined {
    const allow = this.allowed(url);
    return allow.length ? new WrongMethodException(method, url, allow) : undefined;
  }
}
