import { Controller, Get, HttpStatus, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { BearerAuth } from '../auth/decorators/bearer-auth.decorator.js';
import { CurrentUser, type AccessTokenPrincipal } from '../auth/decorators/current-user.decorator.js';
import { ApiErrorResponse } from '../common/http/error-response.dto.js';
import type { AuditEvent } from './audit-event.entity.js';
import { AuditService } from './audit.service.js';
import { AuditPageDto, AuditQueryDto } from './dto/audit.dto.js';

@ApiTags('sessions')
@BearerAuth()
@Controller('auth/audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @ApiOperation({ summary: "The caller's security events, newest first (logins, refreshes, revocations…)" })
  @ApiOkResponse({ type: AuditPageDto })
  @ApiErrorResponse(HttpStatus.BAD_REQUEST, 'A limit outside 1–100, or a cursor this API did not return', {
    message: 'cursor is not a cursor this API returned',
  })
  async list(@CurrentUser() principal: AccessTokenPrincipal, @Query() query: AuditQueryDto): Promise<AuditPageDto> {
    const page = await this.audit.listForUser(principal.userId, query.limit ?? 20, query.cursor);
    return {
      items: page.items.map((e) => ({
        id: e.id,
        type: e.type,
        createdAt: new Date(e.createdAt).toISOString(),
        sessionId: e.sessionId,
        ip: e.ip,
        userAgent: e.userAgent,
        detail: detailOf(e),
      })),
      next: page.next,
    };
  }
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
