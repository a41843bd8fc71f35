import { Controller, Delete, HttpCode, HttpStatus, Param } from '@nestjs/common';
import { ApiNoContentResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, type AccessTokenPrincipal } from '../auth/decorators/current-user.decorator.js';
import { Roles } from '../authz/roles.decorator.js';
import { IgnoresBody } from '../common/http/accepts-body.decorator.js';
import { ApiErrorResponse } from '../common/http/error-response.dto.js';
import { ADMIN_ROLE } from '../users/role-name.js';
import { AdminSessionsService } from './admin-sessions.service.js';

/** Any user's session, by its id, for admins. */
@ApiTags('admin')
@Roles(ADMIN_ROLE)
@Controller('admin/sessions')
export class AdminSessionsController {
  constructor(private readonly sessions: AdminSessionsService) {}

  @Delete(':id')
  @IgnoresBody()
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: "Revoke any user's session; its refresh and access tokens stop working" })
  @ApiNoContentResponse({ description: 'Revoked' })
  @ApiErrorResponse(HttpStatus.NOT_FOUND, 'No such active session', { message: 'Session not found' })
  revoke(@CurrentUser() principal: AccessTokenPrincipal, @Param('id') id: string): Promise<void> {
    return this.sessions.revoke(id, principal.userId);
  }
}
