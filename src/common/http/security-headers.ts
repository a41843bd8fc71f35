import helmet, { type HelmetOptions } from 'helmet';

/**
 * helmet's headers that only mean something on a document a browser renders (an HTML page, an
 * SVG image, text): process isolation of a browsing context, DNS prefetching from links, IE8's
 * download prompt, Flash/PDF cross-domain policies, the retired XSS auditor. A JSON answer is
 * never such a document, so these are left off JSON only; the headers that protect every
 * response (CSP with frame-ancestors, nosniff, X-Frame-Options, CORP, Referrer-Policy, HSTS)
 * stay on all of them (OWASP REST Security Cheat Sheet, "Security Headers").
 */
const DOCUMENT_ONLY = new Set([
  'cross-origin-opener-policy',
  'origin-agent-cluster',
  'x-dns-prefetch-control',
  'x-download-options',
  'x-permitted-cross-domain-policies',
  'x-xss-protection',
]);

export interface SecurityHeaders {
  /** On every response. */
  all: Readonly<Record<string, string>>;
  /** Added to every response that is not JSON (see isJson). */
  documentOnly: Readonly<Record<string, string>>;
}

/**
 * helmet's headers, computed once and split in two. Our policy does not vary by request, and
 * @fastify/helmet rebuilt the middleware and re-parsed the CSP on every request (10 % of GET
 * /auth/me's CPU); setting the six document-only headers on JSON answers too cost another ~7 %
 * (README, Performance).
 */
export function securityHeaders(options: HelmetOptions): SecurityHeaders {
  const headers: Record<string, string> = {};
  const response = {
    setHeader: (name: string, value: unknown) => {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader: (name: string) => {
      delete headers[name.toLowerCase()];
    },
    getHeader: (name: string) => headers[name.toLowerCase()],
  };
  helmet(options)({ headers: {} } as never, response as never, () => undefined);
  const entries = Object.entries(headers);
  return {
    all: Object.fromEntries(entries.filter(([name]) => !DOCUMENT_ONLY.has(name))),
    documentOnly: Object.fromEntries(entries.filter(([name]) => DOCUMENT_ONLY.has(name))),
  };
}

/**
 * Whether a response of this Content-Type is JSON (`application/json`, `application/…+json`).
 * Anything else, a missing type included, is treated as a document: new kinds of response get
 * every header unless they are JSON.
 */
export function isJson(contentType: unknown): boolean {
  if (typeof contentType !== 'string') return false;
  const type = contentType.split(';', 1)[0].trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}
