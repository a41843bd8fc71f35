import { createHash, randomUUID } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { BadRequestException, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { AuditEvent, AuditEventType } from './audit-event.entity.js';
import { AuditEventRepository, type AuditCursor } from './audit-event.repository.js';
import { RepeatBuffer } from './repeat-buffer.js';

/** Longest User-Agent stored: enough to tell browsers apart, too short to carry a payload. */
export const MAX_USER_AGENT_LENGTH = 256;
/** Rows deleted per statement by the purge, so one batch never holds the database (or SQLite's event loop) for long. */
const PURGE_BATCH = 1000;

export interface AuditInput {
  userId?: string | null;
  sessionId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  detail?: Record<string, string | number | boolean | null>;
}

export interface AuditPage {
  items: AuditEvent[];
  next: string | null;
}

/** Records security events in `audit_events` and as structured log lines. */
@Injectable()
export class AuditService implements OnModuleDestroy {
  private readonly logger = new Logger('Audit');

  private readonly repeats = new RepeatBuffer((counts) => this.addRepeats(counts));

  constructor(private readonly events: AuditEventRepository) {}

  /** Never throws: losing an audit row must not fail the login or refresh it describes. */
  async record(type: AuditEventType, input: AuditInput = {}, now = Date.now()): Promise<void> {
    const event = this.event(type, input, now);
    this.log(type, event, input);
    try {
      await this.events.insert(event);
    } catch (error) {
      this.logger.error(`Could not store audit event ${type}: ${(error as Error).message}`);
    }
  }

  /**
   * Records an event that an attacker can repeat at will (a refused login) at most once per
   * account and `scope` (e.g. the client's IP and the throttle window): the first occurrence
   * makes a row, every repeat adds one to its `occurrences`, on one instance or many (a unique
   * key decides). Repeats against names that are no account share one row per scope, so
   * spraying made-up usernames adds no rows either. Repeats of a row this process wrote are
   * counted in memory and added about once a second (RepeatBuffer). Logged once per row.
   * Never throws.
   */
  async recordRepeatable(type: AuditEventType, username: string, scope: string, input: AuditInput = {}, now = Date.now()): Promise<void> {
    const normalized = username.toLowerCase();
    const requestKey = dedupeKey(type, normalized, scope);
    const known = this.repeats.rowOf(requestKey);
    if (known) return this.repeats.count(known);
    const event = this.event(type, input, now);
    try {
      let rowKey = requestKey;
      let occurrences = await this.events.upsertRepeatableForUsername(event, rowKey, normalized);
      if (occurrences === undefined) {
        rowKey = dedupeKey(type, '', scope);
        occurrences = await this.events.upsertRepeatable(event, rowKey);
      }
      this.repeats.remember(requestKey, rowKey);
      if (occurrences === 1) this.log(type, event, input, { repeatsCounted: true });
    } catch (error) {
      this.logger.error(`Could not store audit event ${type}: ${(error as Error).message}`);
    }
  }

  /**
   * Records an event about one session that an unauthenticated client can repeat (several
   * refresh cookies at once) at most once per session and `scope` (e.g. the hour): the first
   * occurrence makes a row, every repeat adds one to its `occurrences`, as recordRepeatable()
   * does, on one instance or many. Logged once per row. Never throws.
   */
  async recordRepeatableForSession(
    type: AuditEventType,
    session: { userId: string; sessionId: string },
    scope: string,
    input: Omit<AuditInput, 'userId' | 'sessionId'> = {},
    now = Date.now(),
  ): Promise<void> {
    // No username, and a scope no recordRepeatable() caller uses (no newline in theirs): the keys never meet.
    const key = dedupeKey(type, '', `session\n${session.sessionId}\n${scope}`);
    const known = this.repeats.rowOf(key);
    if (known) return this.repeats.count(known);
    const event = this.event(type, { ...input, ...session }, now);
    try {
      const occurrences = await this.events.upsertRepeatableForSession(event, key);
      this.repeats.remember(key, key);
      if (occurrences === 1) this.log(type, event, input, { repeatsCounted: true });
    } catch (error) {
      this.logger.error(`Could not store audit event ${type}: ${(error as Error).message}`);
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.repeats.drain();
  }

  private async addRepeats(counts: Map<string, number>): Promise<void> {
    for (const [rowKey, n] of counts) {
      try {
        await this.events.addRepeats(rowKey, n);
      } catch (error) {
        this.logger.error(`Could not count ${n} repeated audit events: ${(error as Error).message}`);
      }
    }
  }

  /**
   * Deletes events older than `retentionMs` (AUDIT_RETENTION) in small batches, letting other
   * work run between them; returns how many.
   */
  async purgeOlderThan(retentionMs: number, now = Date.now()): Promise<number> {
    const cutoff = now - retentionMs;
    let purged = 0;
    for (;;) {
      const deleted = await this.events.deleteBatchCreatedBefore(cutoff, PURGE_BATCH);
      purged += deleted;
      if (deleted < PURGE_BATCH) return purged;
      await nextTurn();
    }
  }

  private event(type: AuditEventType, input: AuditInput, now: number): AuditEvent {
    return {
      id: randomUUID(),
      userId: input.userId ?? null,
      sessionId: input.sessionId ?? null,
      type,
      ip: input.ip?.slice(0, 64) ?? null,
      userAgent: input.userAgent?.slice(0, MAX_USER_AGENT_LENGTH) ?? null,
      detail: input.detail ? JSON.stringify(input.detail) : null,
      createdAt: now,
      occurrences: null,
    };
  }

  private log(type: AuditEventType, event: AuditEvent, input: AuditInput, extra: Record<string, boolean> = {}): void {
    const level = type === 'refresh_token_reuse' || type === 'login_throttled' ? 'warn' : 'log';
    this.logger[level]({ event: type, userId: event.userId, sessionId: event.sessionId, ip: event.ip, ...input.detail, ...extra });
  }

  /** A user's events, newest first, keyset-paginated by an opaque cursor. */
  async listForUser(userId: string, limit: number, cursor?: string): Promise<AuditPage> {
    // Counts still in memory belong in what the user reads.
    await this.repeats.drain();
    const after = decodeCursor(cursor);
    if (cursor && !after) throw new BadRequestException('cursor is not a cursor this API returned');
    const rows = await this.events.findForUser(userId, limit + 1, after);
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return { items, next: rows.length > limit && last ? encodeCursor(last) : null };
  }
}

/** Fixed length, and no username or address in the clear. */
function dedupeKey(type: AuditEventType, username: string, scope: string): string {
  return createHash('sha256').update(`${type}\n${username}\n${scope}`).digest('base64url');
}

function encodeCursor(event: AuditEvent): string {
  return Buffer.from(`${event.createdAt}:${event.id}`).toString('base64url');
}

function decodeCursor(cursor: string | undefined): AuditCursor | undefined {
  if (!cursor) return undefined;
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split(':');
  const valid = /^\d{1,15}$/.test(at ?? '') && /^[0-9a-f-]{36}$/i.test(id ?? '');
  return valid ? { at: Number(at), id } : undefined;
}
