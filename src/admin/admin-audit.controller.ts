import { Controller, Get, Header, HttpStatus, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuditService } from '../audit/audit.service.js';
import { toAuditEventDto } from '../audit/dto/audit.dto.js';
import { Roles } from '../authz/roles.decorator.js';
import { ApiErrorResponse } from '../common/http/error-response.dto.js';
import { ADMIN_ROLE } from '../users/role-name.js';
import { AdminAuditPageDto, AdminAuditQueryDto } from './dto/admin-audit.dto.js';

/** Security events of every user, for admins. */
@ApiTags('admin')
@Roles(ADMIN_ROLE)
@Controller('admin/audit')
export class AdminAuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: "Every user's security events (or one user's, or one type's), newest first" })
  @ApiOkResponse({ type: AdminAuditPageDto })
  @ApiErrorResponse(
    HttpStatus.BAD_REQUEST,
    'A limit outside 1–100, an unknown type, a userId that is no id, or a foreign cursor',
    {
      message: ['type must be an audit event type'],
    },
  )
  async list(@Query() query: AdminAuditQueryDto): Promise<AdminAuditPageDto> {
    const page = await this.audit.list({ userId: query.userId, type: query.type }, query.limit ?? 20, query.cursor);
    return { items: page.items.map((event) => ({ ...toAuditEventDto(event), userId: event.userId })), next: page.next };
  }
}
