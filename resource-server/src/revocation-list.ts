/** One entry of the revocation feed: a session, or every token of a user issued before `notBefore`. */
export type Revocation =
  { sid: string; sub: string; until: number } | { sid?: undefined; sub: string; notBefore: number; until: number };

/** The feed's `data` (or a polled item), or undefined when it is neither shape. */
export function parseRevocation(value: unknown): Revocation | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { sid, sub, notBefore, until } = value as Record<string, unknown>;
  if (typeof sub !== 'string' || !isEpochSeconds(until)) return undefined;
  if (typeof sid === 'string' && sid.length) return { sid, sub, until };
  if ((sid === undefined || sid === null) && isEpochSeconds(notBefore)) return { sub, notBefore, until };
  return undefined;
}

function isEpochSeconds(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/**
 * Revoked sessions and user cut-offs, each kept until no token it affects can still be accepted
 * (`until`, the latest `exp` such a token can have, plus the clock tolerance). Lookups are two map
 * reads, so the check costs nothing next to the request.
 */
export class RevocationList {
  private readonly sessions = new Map<string, number>();
  private readonly users = new Map<string, { notBefore: number; until: number }>();

  apply(revocation: Revocation): void {
    if (revocation.sid !== undefined) {
      this.sessions.set(revocation.sid, Math.max(revocation.until, this.sessions.get(revocation.sid) ?? -Infinity));
      return;
    }
    // A later cut-off covers every token an earlier one did, so the maximum of each is the rule.
    const known = this.users.get(revocation.sub);
    this.users.set(revocation.sub, {
      notBefore: Math.max(revocation.notBefore, known?.notBefore ?? -Infinity),
      until: Math.max(revocation.until, known?.until ?? -Infinity),
    });
  }

  /** True when the session is revoked, or the token was issued before its user's cut-off. */
  isRevoked(sid: string, sub: string, iat: number): boolean {
    if (this.sessions.has(sid)) return true;
    const cutOff = this.users.get(sub);
    return cutOff !== undefined && iat < cutOff.notBefore;
  }

  /**
   * Forgets entries whose tokens have all expired: `until` has passed by more than the tolerance
   * the verifier grants on `exp`, so forgetting one can never let a token back in.
   */
  prune(nowSeconds: number, toleranceSeconds: number): void {
    const horizon = nowSeconds - toleranceSeconds;
    for (const [sid, until] of this.sessions) if (until < horizon) this.sessions.delete(sid);
    for (const [sub, cutOff] of this.users) if (cutOff.until < horizon) this.users.delete(sub);
  }

  get size(): number {
    return this.sessions.size + this.users.size;
  }
}
