import { randomUUID } from 'node:crypto';
import { BadRequestException, Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Sql } from '../database/sql.js';
import { Brackets, Repository } from 'typeorm';
import { AuditEvent, type AuditEventType } from './audit-event.entity.js';

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
export class AuditService {
  private readonly logger = new Logger('Audit');

  constructor(
    @InjectRepository(AuditEvent) private readonly events: Repository<AuditEvent>,
    private readonly sql: Sql,
  ) {}

  /** Never throws: losing an audit row must not fail the login or refresh it describes. */
  async record(type: AuditEventType, input: AuditInput = {}, now = Date.now()): Promise<void> {
    const event: AuditEvent = {
      id: randomUUID(),
      userId: input.userId ?? null,
      sessionId: input.sessionId ?? null,
      type,
      ip: input.ip?.slice(0, 64) ?? null,
      userAgent: input.userAgent?.slice(0, 512) ?? null,
      detail: input.detail ? JSON.stringify(input.detail) : null,
      createdAt: now,
    };
    const level = type === 'refresh_token_reuse' || type === 'login_throttled' ? 'warn' : 'log';
    this.logger[level]({ event: type, userId: event.userId, sessionId: event.sessionId, ip: event.ip, ...input.detail });
    try {
      await this.sql.run(
        'INSERT INTO audit_events (id, user_id, session_id, type, ip, user_agent, detail, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        [event.id, event.userId, event.sessionId, event.type, event.ip, event.userAgent, event.detail, event.createdAt],
      );
    } catch (error) {
      this.logger.error(`Could not store audit event ${type}: ${(error as Error).message}`);
    }
  }

  /** A user's events, newest first, keyset-paginated by an opaque cursor. */
  async listForUser(userId: string, limit: number, cursor?: string): Promise<AuditPage> {
    const query = this.events
      .createQueryBuilder('e')
      .where('e.user_id = :userId', { userId })
      .orderBy('e.created_at', 'DESC')
      .addOrderBy('e.id', 'DESC')
      .take(limit + 1);
    const after = decodeCursor(cursor);
    if (cursor && !after) throw new BadRequestException('cursor is not a cursor this API returned');
    if (after) {
      query.andWhere(
        new Brackets((q) =>
          q.where('e.created_at < :at', { at: after.at }).orWhere('e.created_at = :at AND e.id < :id', { id: after.id }),
        ),
      );
    }
    const rows = await query.getMany();
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return { items, next: rows.length > limit && last ? encodeCursor(last) : null };
  }
}

function encodeCursor(event: AuditEvent): string {
  return Buffer.from(`${event.createdAt}:${event.id}`).toString('base64url');
}

function decodeCursor(cursor: string | undefined): { at: number; id: string } | undefined {
  if (!cursor) return undefined;
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split(':');
  const valid = /^\d{1,15}$/.test(at ?? '') && /^[0-9a-f-]{36}$/i.test(id ?? '');
  return valid ? { at: Number(at), id } : undefined;
}
