import { Injectable } from '@nestjs/common';
import { SessionRepository } from './session.repository.js';

interface Entry {
  userId: string;
  username: string;
  active: boolean;
  expiresAt: number;
  checkedAt: number;
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

  constructor(private readonly sessions: SessionRepository) {}

  /**
   * The username when the session exists, belongs to the user, is not revoked and not past its
   * absolute expiry; otherwise undefined.
   */
  async activeUsername(sessionId: string, userId: string, now = Date.now()): Promise<string | undefined> {
    let entry = this.entries.get(sessionId);
    if (!entry || now - entry.checkedAt >= SESSION_STATE_TTL_MS) entry = (await this.load(sessionId)) ?? undefined;
    return entry && entry.active && entry.userId === userId && entry.expiresAt > now ? entry.username : undefined;
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
      checkedAt,
    };
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.delete(sessionId);
    this.entries.set(sessionId, entry);
    return entry;
  }
}
