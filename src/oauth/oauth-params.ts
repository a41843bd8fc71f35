import { OAuthException } from '../common/http/oauth.exception.js';

/**
 * Reads OAuth request parameters from a form or JSON body. RFC 6749 §3.2: a parameter sent
 * twice, or not as a single string, is an invalid_request; so is a missing required one.
 */
export class OAuthParams {
  private constructor(private readonly values: Record<string, unknown>) {}

  static from(body: unknown): OAuthParams {
    if (body === undefined || body === null || body === '') return new OAuthParams({});
    if (typeof body !== 'object' || Array.isArray(body)) {
      throw new OAuthException('invalid_request', 'The request body must be form-encoded or a JSON object');
    }
    return new OAuthParams(body as Record<string, unknown>);
  }

  optional(name: string): string | undefined {
    const value = this.values[name];
    if (value === undefined || value === '') return undefined;
    if (Array.isArray(value)) throw new OAuthException('invalid_request', `Parameter "${name}" is repeated`);
    if (typeof value !== 'string') throw new OAuthException('invalid_request', `Parameter "${name}" must be a string`);
    if (value.length > 4096) throw new OAuthException('invalid_request', `Parameter "${name}" is too long`);
    // NUL and other control characters: no valid value has them, and PostgreSQL refuses NUL.
    // eslint-disable-next-line no-control-regex -- finding control characters is the point
    if (/[\u0000-\u001f\u007f]/.test(value) && name !== 'password') {
      throw new OAuthException('invalid_request', `Parameter "${name}" contains control characters`);
    }
    return value;
  }

  required(name: string): string {
    const value = this.optional(name);
    if (value === undefined) throw new OAuthException('invalid_request', `Missing parameter "${name}"`);
    return value;
  }
}
