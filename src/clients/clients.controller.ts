import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  HttpStatus,
  NotFoundException,
  Param,
  Post,
  Res,
} from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentUser, type AccessTokenPrincipal } from '../auth/decorators/current-user.decorator.js';
import { Roles } from '../authz/roles.decorator.js';
import { AcceptsBody, IgnoresBody, JSON_ONLY } from '../common/http/accepts-body.decorator.js';
import type { ClientInfo } from '../common/http/client-info.js';
import { Client } from '../common/http/client.decorator.js';
import { ApiErrorResponse } from '../common/http/error-response.dto.js';
import { noStore } from '../common/http/no-store.js';
import type { ApiClient } from './api-client.entity.js';
import { ClientsService } from './clients.service.js';
import { ClientDto, CreateClientDto, CreatedClientDto } from './dto/client.dto.js';

const view = (client: ApiClient): ClientDto => ({
  client_id: client.id,
  name: client.name,
  createdAt: new Date(client.createdAt).toISOString(),
});

/** Admins manage the resource-server clients, as `npm run clients` does. */
@ApiTags('admin')
@Roles('admin')
@Controller('admin/clients')
export class ClientsController {
  constructor(private readonly clients: ClientsService) {}

  @Post()
  @AcceptsBody(JSON_ONLY)
  @ApiOperation({ summary: 'Create a resource-server client; its secret is in this answer and nowhere else' })
  @ApiCreatedResponse({ type: CreatedClientDto })
  @ApiErrorResponse(HttpStatus.BAD_REQUEST, 'Invalid name', {
    message: ['name must be longer than or equal to 1 characters'],
  })
  async create(
    @Body() body: CreateClientDto,
    @CurrentUser() principal: AccessTokenPrincipal,
    @Client() client: ClientInfo,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<CreatedClientDto> {
    // The secret must not sit in a browser or proxy cache.
    noStore(reply);
    const created = await this.clients.create(body.name, { via: 'api', userId: principal.userId, client });
    return { ...view(created.client), client_secret: created.secret };
  }

  @Get()
  @IgnoresBody()
  @ApiOperation({ summary: 'Every resource-server client, oldest first (never a secret)' })
  @ApiOkResponse({ type: [ClientDto] })
  async list(): Promise<ClientDto[]> {
    return (await this.clients.list()).map(view);
  }

  @Delete(':client_id')
  @IgnoresBody()
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Delete a client; its secret stops authenticating at once' })
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiErrorResponse(HttpStatus.NOT_FOUND, 'No such client', { message: 'Client not found' })
  async delete(
    @Param('client_id') clientId: string,
    @CurrentUser() principal: AccessTokenPrincipal,
    @Client() client: ClientInfo,
  ): Promise<void> {
    if (!(await this.clients.delete(clientId, { via: 'api', userId: principal.userId, client }))) {
      throw new NotFoundException('Client not found');
    }
  }
}
