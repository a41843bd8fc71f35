import { Controller, Delete, Get, HttpCode, HttpStatus, NotFoundException, Param } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuditService } from '../audit/audit.service.js';
import { IgnoresBody } from '../common/http/accepts-body.decorator.js';
import type { ClientInfo } from '../common/http/client-info.js';
import { Client } from '../common/http/client.decorator.js';
import { ApiErrorResponse } from '../common/http/error-response.dto.js';
import { isUuid } from '../common/uuid.js';
import { BearerAuth } from '../auth/decorators/bearer-auth.decorator.js';
import { CurrentUser, type AccessTokenPrincipal } from '../auth/decorators/current-user.decorator.js';
import { SessionDto } from './dto/session.dto.js';
import { SessionsService } from './sessions.service.js';

const iso = (ms: number) => new Date(ms).toISOString();

/** The caller's devices: list them, sign one out. */
@ApiTags('sessions')
@BearerAuth()
@Controller('auth/sessions')
export class SessionsController {
  constructor(
    private readonly sessions: SessionsService,
    private readonly audit: AuditService,
  ) {}

  @Get()
  @ApiOperation({ summary: "The caller's active sessions (never any token material)" })
  @ApiOkResponse({ type: [SessionDto] })
  async list(@CurrentUser() principal: AccessTokenPrincipal): Promise<SessionDto[]> {
    const sessions = await this.sessions.listActive(principal.userId);
    return sessions.map((s) => ({
      id: s.id,
      createdAt: iso(s.createdAt),
      lastUsedAt: iso(s.lastUsedAt),
      expiresAt: iso(s.expiresAt),
      userAgent: s.userAgent,
      ip: s.ip,
      current: s.id === principal.sessionId,
    }));
  }

  @Delete(':id')
  @IgnoresBody()
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Revoke one of your sessions; its refresh and access tokens stop working' })
  @ApiNoContentResponse({ description: 'Revoked' })
  @ApiErrorResponse(HttpStatus.NOT_FOUND, 'No such active session of yours', { message: 'Session not found' })
  async revoke(
    @CurrentUser() principal: AccessTokenPrincipal,
    @Param('id') id: string,
    @Client() client: ClientInfo,
  ): Promise<void> {
    // Anything that is not a session id is simply not one of yours.
    if (!isUuid(id) || !(await this.sessions.revokeOwn(principal.userId, id))) {
      throw new NotFoundException('Session not found');
    }
    await this.audit.record('session_revoked', {
      userId: principal.userId,
      sessionId: id,
      ...client,
      detail: { bySessionId: principal.sessionId },
    });
  }
}
