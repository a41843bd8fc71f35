import helmet, { type HelmetOptions } from 'helmet';

/**
 * helmet's headers, computed once. Our policy does not vary by request, and @fastify/helmet
 * rebuilt the middleware and re-parsed the CSP on every request (10 % of GET /auth/me's CPU).
 */
export function securityHeaders(options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader: (name: string, value: unknown) => {
      headers[name] = String(value);
    },
    removeHeader: (name: string) => {
      delete headers[name];
    },
    getHeader: (name: string) => headers[name],
  };
  helmet(options)({ headers: {} } as never, response as never, () => undefined);
  return headers;
}
