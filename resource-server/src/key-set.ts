import { createLocalJWKSet, errors, type CryptoKey, type FlattenedJWSInput, type JWSHeaderParameters } from 'jose';
import type { AuthServerClient } from './auth-server-client.js';

/** The JWKS has never been loaded: the kit cannot tell a good token from a forged one. */
export class KeysUnavailableError extends Error {
  override readonly name = 'KeysUnavailableError';
}

/**
 * The auth server's public keys (`<issuer>/.well-known/jwks.json`), reloaded every five minutes
 * and on a token with an unknown `kid`. Reloads are shared by concurrent callers and at most one a
 * second starts, so tokens with made-up `kid`s cannot turn into a request flood.
 */
export class RemoteKeySet {
  private local: ReturnType<typeof createLocalJWKSet> | undefined;
  private loading: Promise<void> | undefined;
  private lastAttemptAt = -Infinity;

  constructor(
    private readonly client: AuthServerClient,
    private readonly onKeys: (kids: ReadonlySet<string>) => void,
    private readonly minIntervalMs = 1000,
  ) {}

  get loaded(): boolean {
    return this.local !== undefined;
  }

  /** Loads the set now (or joins the load under way); rejects when it cannot be fetched. */
  load(): Promise<void> {
    this.loading ??= this.fetch().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  /** The key function for jose's jwtVerify. */
  readonly key = async (header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> => {
    if (!this.local) {
      await this.load().catch((error: unknown) => {
        throw new KeysUnavailableError(error instanceof Error ? error.message : String(error));
      });
    }
    try {
      return await this.local!(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      // A key rotated in since the last load, or a forged kid: reload unless one just started.
      if (!this.loading && performance.now() - this.lastAttemptAt < this.minIntervalMs) throw error;
      await this.load().catch(() => {});
      return this.local!(header, token);
    }
  };

  private async fetch(): Promise<void> {
    this.lastAttemptAt = performance.now();
    const jwks = await this.client.jwks();
    const local = createLocalJWKSet(jwks);
    this.local = local;
    const kids = new Set(jwks.keys.map((key) => key.kid).filter((kid): kid is string => typeof kid === 'string'));
    this.onKeys(kids);
  }
}
