import { Controller, Get, HttpStatus, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { BearerAuth } from '../auth/decorators/bearer-auth.decorator.js';
import { CurrentUser, type AccessTokenPrincipal } from '../auth/decorators/current-user.decorator.js';
import { ApiErrorResponse } from '../common/http/error-response.dto.js';
import { AuditService } from './audit.service.js';
import { AuditPageDto, AuditQueryDto, toAuditEventDto } from './dto/audit.dto.js';

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
      items: page.items.map(toAuditEventDto),
      next: page.next,
    };
  }
}
