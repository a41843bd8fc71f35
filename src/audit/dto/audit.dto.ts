import { ApiProperty } from '@nestjs/swagger';
import { PageQueryDto } from '../../common/dto/page-query.dto.js';
import { AUDIT_EVENT_TYPES, type AuditEvent } from '../audit-event.entity.js';

export class AuditQueryDto extends PageQueryDto {}

export class AuditEventDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ enum: AUDIT_EVENT_TYPES }) type: string;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({ nullable: true, type: String }) sessionId: string | null;
  @ApiProperty({ nullable: true, type: String }) ip: string | null;
  @ApiProperty({ nullable: true, type: String }) userAgent: string | null;
  @ApiProperty({
    nullable: true,
    type: 'object',
    additionalProperties: true,
    description:
      'Event details (scalar values). A repeated event (login_throttled) adds `count`, `distinctIps` (client addresses, IPv6 by /64; at most 1000 are counted) and `ipSample` (the first 10 of them, comma-separated).',
  })
  detail: Record<string, unknown> | null;
}

export class AuditPageDto {
  @ApiProperty({ type: [AuditEventDto] }) items: AuditEventDto[];
  @ApiProperty({ nullable: true, type: String, description: 'Cursor for the next (older) page; null on the last page' })
  next: string | null;
}

/** An event as the audit listings show it. */
export function toAuditEventDto(event: AuditEvent): AuditEventDto {
  return {
    id: event.id,
    type: event.type,
    createdAt: new Date(event.createdAt).toISOString(),
    sessionId: event.sessionId,
    ip: event.ip,
    userAgent: event.userAgent,
    detail: detailOf(event),
  };
}

/**
 * The stored detail; a repeatable event (e.g. login_throttled) also says how often it happened
 * and, when counted, from how many client addresses (IPv6 by /64), with a sample of them.
 */
function detailOf(event: AuditEvent): Record<string, unknown> | null {
  const detail = event.detail ? (JSON.parse(event.detail) as Record<string, unknown>) : null;
  if (event.occurrences === null) return detail;
  // The sample stays a comma-separated string: detail values are scalars, whatever the event.
  const sources = event.distinctIps === null ? {} : { distinctIps: event.distinctIps, ipSample: event.ipSample ?? '' };
  return { ...detail, count: event.occurrences, ...sources };
}
