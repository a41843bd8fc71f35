import type { Principal } from './principal.js';

/** A token whose signature and claims checked out, with what the revocation checks need. */
export interface VerifiedToken {
  principal: Principal;
  sid: string;
  sub: string;
  iat: number;
  kid: string | undefined;
  /** Date.now() from which the token counts as expired: (`exp` + clock tolerance) in ms. */
  expiresAtMs: number;
}

/**
 * Verified tokens by their exact string, so a known token costs a map lookup instead of a
 * signature check. Bounded: when full, the oldest entry goes (insertion order), and expired
 * entries are swept by `prune`. Only tokens that verified are stored, so the string key is safe:
 * the kit accepts one spelling per token (see compact-jws.ts).
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, VerifiedToken>();

  constructor(private readonly maxEntries: number) {}

  get(token: string): VerifiedToken | undefined {
    return this.entries.get(token);
  }

  set(token: string, entry: VerifiedToken): void {
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(token, entry);
  }

  delete(token: string): void {
    this.entries.delete(token);
  }

  prune(nowMs: number): void {
    for (const [token, entry] of this.entries) if (nowMs >= entry.expiresAtMs) this.entries.delete(token);
  }

  /** Drops tokens signed by keys the auth server no longer publishes. */
  dropKeys(keep: ReadonlySet<string>): void {
    for (const [token, entry] of this.entries)
      if (entry.kid === undefined || !keep.has(entry.kid)) this.entries.delete(token);
  }

  get size(): number {
    return this.entries.size;
  }
}
