import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { clientOf } from '../common/http/client-info.js';
import { ClientAuthException } from '../common/http/client-auth.exception.js';
import type { ApiClient } from './api-client.entity.js';
import { ClientAuthThrottle } from './client-auth.throttle.js';
import { ClientsService } from './clients.service.js';

export const CLIENT_REALM = 'nest-token-auth';

/** Where the guard leaves the authenticated client for @AuthenticatedClient(). */
export const AUTHENTICATED_CLIENT = Symbol('authenticatedClient');

export type ClientAuthenticatedRequest = FastifyRequest & { [AUTHENTICATED_CLIENT]?: ApiClient };

/** Longest Basic credentials looked at; ours are 22 + 43 characters, form-encoded as they are. */
const MAX_CREDENTIALS_LENGTH = 512;

/**
 * HTTP Basic client authentication (`client_secret_basic`, RFC 6749 §2.3.1): the id and secret
 * are form-urlencoded, joined with `:`, base64-encoded. Missing or wrong credentials are a 401
 * `invalid_client` with a Basic challenge; failed attempts are throttled per IP (429).
 */
@Injectable()
export class ClientAuthGuard implements CanActivate {
  constructor(
    private readonly clients: ClientsService,
    private readonly throttle: ClientAuthThrottle,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<ClientAuthenticatedRequest>();
    const authorization = request.headers.authorization;
    // No credentials at all is no guess: a 401 that says how to authenticate, and nothing counted.
    if (!authorization || !/^Basic(\s|$)/i.test(authorization)) {
      throw new ClientAuthException(
        CLIENT_REALM,
        'Client authentication with HTTP Basic (client_secret_basic) is required',
      );
    }
    const attempt = await this.throttle.begin(clientOf(request).ip);
    const credentials = parseBasicCredentials(authorization);
    const client = credentials && (await this.clients.authenticate(credentials.clientId, credentials.secret));
    if (!client) throw attempt.failed() ?? new ClientAuthException(CLIENT_REALM, 'Client authentication failed');
    await attempt.succeeded();
    request[AUTHENTICATED_CLIENT] = client;
    return true;
  }
}

/**
 * `Basic <base64(form(id):form(secret))>` → the id and secret, or null when malformed. The split
 * is at the first `:`, which form-encoding keeps out of the id.
 */
export function parseBasicCredentials(authorization: string): { clientId: string; secret: string } | null {
  const match = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(authorization);
  if (!match || match[1].length > MAX_CREDENTIALS_LENGTH) return null;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return null;
  const clientId = formDecode(decoded.slice(0, colon));
  const secret = formDecode(decoded.slice(colon + 1));
  return clientId && secret ? { clientId, secret } : null;
}

/** application/x-www-form-urlencoded decoding; null for a malformed `%` sequence. */
function formDecode(value: string): string | null {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return null;
  }
}
