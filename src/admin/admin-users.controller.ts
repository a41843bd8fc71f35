import { Body, Controller, Delete, Get, Header, HttpCode, HttpStatus, Param, Patch, Query } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, type AccessTokenPrincipal } from '../auth/decorators/current-user.decorator.js';
import { Roles } from '../authz/roles.decorator.js';
import { AcceptsBody, IgnoresBody, JSON_ONLY } from '../common/http/accepts-body.decorator.js';
import { ApiErrorResponse } from '../common/http/error-response.dto.js';
import { ADMIN_ROLE } from '../users/role-name.js';
import { AdminSessionsService } from './admin-sessions.service.js';
import { AdminUsersService } from './admin-users.service.js';
import { AdminSessionDto } from './dto/admin-session.dto.js';
import { AdminUserDto, AdminUserPageDto, AdminUsersQueryDto, UpdateUserDto } from './dto/admin-user.dto.js';

/** Admin data names people: no cache keeps a copy. */
const NO_STORE = ['Cache-Control', 'no-store'] as const;

/** Accounts for admins: list and find them, change their roles, disable them, sign them out. */
@ApiTags('admin')
@Roles(ADMIN_ROLE)
@Controller('admin/users')
export class AdminUsersController {
  constructor(
    private readonly users: AdminUsersService,
    private readonly sessions: AdminSessionsService,
  ) {}

  @Get()
  @Header(...NO_STORE)
  @ApiOperation({ summary: 'Users, oldest first, with roles and active sessions; `q` filters by username prefix' })
  @ApiOkResponse({ type: AdminUserPageDto })
  @ApiErrorResponse(HttpStatus.BAD_REQUEST, 'A limit outside 1–100, a q over 64 characters, or a foreign cursor', {
    message: 'cursor is not a cursor this API returned',
  })
  list(@Query() query: AdminUsersQueryDto): Promise<AdminUserPageDto> {
    return this.users.page(query.q, query.limit ?? 20, query.cursor);
  }

  @Get(':id')
  @Header(...NO_STORE)
  @ApiOperation({ summary: 'One user' })
  @ApiOkResponse({ type: AdminUserDto })
  @ApiErrorResponse(HttpStatus.NOT_FOUND, 'No such user', { message: 'User not found' })
  get(@Param('id') id: string): Promise<AdminUserDto> {
    return this.users.get(id);
  }

  @Patch(':id')
  @AcceptsBody(JSON_ONLY)
  @Header(...NO_STORE)
  @ApiOperation({
    summary:
      "Set a user's roles (the whole new set) and/or disable or enable them; their older access tokens stop within a second",
  })
  @ApiOkResponse({ type: AdminUserDto, description: 'The user after the change' })
  @ApiErrorResponse(HttpStatus.BAD_REQUEST, 'An empty change, or a role name that is not one', {
    message: ['each value in roles must match /^[a-z][a-z0-9_-]{0,31}$/'],
  })
  @ApiErrorResponse(HttpStatus.NOT_FOUND, 'No such user', { message: 'User not found' })
  @ApiErrorResponse(
    HttpStatus.CONFLICT,
    'The change would lock you out: disabling yourself, or removing your own admin role',
    {
      message: 'You cannot remove your own admin role',
    },
  )
  update(
    @CurrentUser() principal: AccessTokenPrincipal,
    @Param('id') id: string,
    @Body() body: UpdateUserDto,
  ): Promise<AdminUserDto> {
    return this.users.update(id, body, principal.userId);
  }

  @Get(':id/sessions')
  @Header(...NO_STORE)
  @ApiOperation({ summary: "The user's active sessions (never any token material)" })
  @ApiOkResponse({ type: [AdminSessionDto] })
  @ApiErrorResponse(HttpStatus.NOT_FOUND, 'No such user', { message: 'User not found' })
  listSessions(@Param('id') id: string): Promise<AdminSessionDto[]> {
    return this.sessions.list(id);
  }

  @Delete(':id/sessions')
  @IgnoresBody()
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Revoke every session of the user; their refresh and access tokens stop working' })
  @ApiNoContentResponse({ description: 'All revoked' })
  @ApiErrorResponse(HttpStatus.NOT_FOUND, 'No such user', { message: 'User not found' })
  revokeSessions(@CurrentUser() principal: AccessTokenPrincipal, @Param('id') id: string): Promise<void> {
    return this.sessions.revokeAll(id, principal.userId);
  }
}
