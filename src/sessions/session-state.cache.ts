import { Injectable } from '@nestjs/common';
import { SessionRepository } from './session.repository.js';

interface Entry {
  userId: string;
  username: string;
  active: boolean;
  expiresAt: number;
  /** The user's cut-off (ms); 0 when none. */
  notBefore: number;
  checkedAt: number;
}

function usernameIfLive(entry: Entry, userId: string, issuedAt: number, now: number): string | undefined {
  return entry.active && entry.userId === userId && entry.expiresAt > now && issuedAt * 1000 >= entry.notBefore
    ? entry.username
    : undefined;
}

/**
 * How long a session's state may be served from memory. Revocations made by this process take
 * effect at once; those made elsewhere (another instance, the CLI) within this time.
 */
export const SESSION_STATE_TTL_MS = 750;
const MAX_ENTRIES = 50_000;

/**
 * Answers "is this session still live?" for every authenticated request without a database
 * query each time: one query per session per SESSION_STATE_TTL_MS at most, coalesced.
 */
@Injectable()
export class SessionStateCache {
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<Entry | null>>();
  /** Recent user-wide revocations, so a query that raced one cannot cache a stale "active". */
  private readonly userRevocations = new Map<string, { at: number; except?: string }>();
  /** Recent user cut-offs, for the same reason. */
  private readonly userCutOffs = new Map<string, { at: number; notBefore: number }>();

  constructor(private readonly sessions: SessionRepository) {}

  /**
   * The username when the session exists, belongs to the user, is not revoked and not past its
   * absolute expiry, and a token issued at `issuedAt` (epoch s) is not before the user's cut-off;
   * otherwise undefined.
   */
  async activeUsername(
    sessionId: string,
    userId: string,
    issuedAt: number,
    now = Date.now(),
  ): Promise<string | undefined> {
    const cached = this.cachedUsername(sessionId, userId, issuedAt, now);
    if (cached !== undefined) return cached === false ? undefined : cached;
    const entry = await this.load(sessionId);
    return entry ? usernameIfLive(entry, userId, issuedAt, now) : undefined;
  }

  /**
   * activeUsername's answer from memory alone, when the session's state there is fresh enough:
   * the username, or false when it is not live. Undefined when it must be loaded first. Lets the
   * Bearer guard answer most requests without a promise.
   */
  cachedUsername(sessionId: string, userId: string, issuedAt: number, now = Date.now()): string | false | undefined {
    const entry = this.entries.get(sessionId);
    if (!entry || now - entry.checkedAt >= SESSION_STATE_TTL_MS) return undefined;
    return usernameIfLive(entry, userId, issuedAt, now) ?? false;
  }

  /** Called after a revocation is committed: the session is dead here from now on. */
  markRevoked(sessionId: string, now = Date.now()): void {
    const entry = this.entries.get(sessionId);
    this.entries.delete(sessionId);
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(sessionId, {
      userId: entry?.userId ?? '',
      username: entry?.username ?? '',
      active: false,
      expiresAt: entry?.expiresAt ?? 0,
      notBefore: entry?.notBefore ?? 0,
      checkedAt: now,
    });
  }

  /** Called after a user-wide revocation is committed: every session but the one named is dead. */
  markUserRevoked(userId: string, exceptSessionId?: string, now = Date.now()): void {
    for (const [id, entry] of this.entries) {
      if (entry.userId === userId && id !== exceptSessionId) entry.active = false;
    }
    for (const [id, revocation] of this.userRevocations) {
      if (now - revocation.at > SESSION_STATE_TTL_MS * 4) this.userRevocations.delete(id);
    }
    this.userRevocations.set(userId, { at: now, except: exceptSessionId });
  }

  /** Called after a user's cut-off (ms) is committed: their tokens issued before it are refused from now on. */
  markUserCutOff(userId: string, notBefore: number, now = Date.now()): void {
    for (const entry of this.entries.values()) {
      if (entry.userId === userId) entry.notBefore = Math.max(entry.notBefore, notBefore);
    }
    for (const [id, cutOff] of this.userCutOffs) {
      if (now - cutOff.at > SESSION_STATE_TTL_MS * 4) this.userCutOffs.delete(id);
    }
    const known = this.userCutOffs.get(userId)?.notBefore ?? 0;
    this.userCutOffs.set(userId, { at: now, notBefore: Math.max(known, notBefore) });
  }

  private load(sessionId: string): Promise<Entry | null> {
    let promise = this.pending.get(sessionId);
    if (!promise) {
      promise = this.query(sessionId).finally(() => this.pending.delete(sessionId));
      this.pending.set(sessionId, promise);
    }
    return promise;
  }

  private async query(sessionId: string): Promise<Entry | null> {
    const checkedAt = Date.now();
    const row = await this.sessions.findStanding(sessionId);
    if (!row) {
      this.entries.delete(sessionId);
      return null;
    }
    // A revocation recorded here while the query ran wins over what the query read.
    const marked = this.entries.get(sessionId);
    const userRevocation = this.userRevocations.get(row.userId);
    const revokedMeanwhile =
      (marked && !marked.active && marked.checkedAt >= checkedAt) ||
      (userRevocation && userRevocation.at >= checkedAt && userRevocation.except !== sessionId);
    const entry: Entry = {
      userId: row.userId,
      username: row.username,
      active: row.revokedAt === null && !revokedMeanwhile,
      expiresAt: row.expiresAt,
      // Cut-offs only move forward: the later of what the query read and what was marked meanwhile.
      notBefore: Math.max(row.notBefore, this.userCutOffs.get(row.userId)?.notBefore ?? 0),
      checkedAt,
    };
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.delete(sessionId);
    this.entries.set(sessionId, entry);
    return entry;
  }
}
