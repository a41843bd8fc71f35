import { Body, Controller, HttpCode, HttpStatus, Post, Res } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBody, ApiConsumes, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ClientAuth } from '../clients/client-auth.decorator.js';
import { AcceptsBody, FORM_OR_JSON } from '../common/http/accepts-body.decorator.js';
import { noStore } from '../common/http/no-store.js';
import { OAuthException } from '../common/http/oauth.exception.js';
import { OAuthErrorDto } from '../oauth/dto/oauth.dto.js';
import { OAuthParams } from '../oauth/oauth-params.js';
import { IntrospectionRequestDto, IntrospectionResponseDto } from './dto/introspection.dto.js';
import { IntrospectionService, MAX_INTROSPECTED_TOKEN_LENGTH } from './introspection.service.js';

/** Room for the longest token we introspect, form-encoded, and the hint. */
const INTROSPECTION_BODY_LIMIT = 2 * MAX_INTROSPECTED_TOKEN_LENGTH;

@ApiTags('oauth')
@Controller('auth')
export class IntrospectionController {
  constructor(private readonly introspection: IntrospectionService) {}

  @Post('introspect')
  @ClientAuth({ oauthErrors: true })
  @AcceptsBody(FORM_OR_JSON, INTROSPECTION_BODY_LIMIT)
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Token introspection (RFC 7662), for resource-server clients',
    description:
      'Whether an access token is active right now: signature, expiry, session not revoked, user not disabled, token not older than the user\'s last role change. An active token gets its claims and username; anything else (expired, revoked, cut off, forged, malformed, a refresh token, unknown) gets exactly `{"active": false}`. Needs client authentication (`client_secret_basic`).',
  })
  @ApiConsumes('application/x-www-form-urlencoded', 'application/json')
  @ApiBody({ type: IntrospectionRequestDto })
  @ApiOkResponse({
    type: IntrospectionResponseDto,
    headers: { 'Cache-Control': { description: '`no-store`', schema: { type: 'string' } } },
  })
  @ApiBadRequestResponse({
    type: OAuthErrorDto,
    description: 'Missing token parameter',
    example: { error: 'invalid_request', error_description: 'Missing parameter "token"' },
  })
  async introspect(
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<IntrospectionResponseDto> {
    noStore(reply);
    const params = OAuthParams.from(body);
    params.optional('token_type_hint');
    return this.introspection.introspect(tokenParameter(body));
  }
}

/**
 * The `token` parameter, present, single, a string. Not OAuthParams.required: its length and
 * character checks would answer 400 to a malformed token, where RFC 7662 wants `active: false`.
 */
function tokenParameter(body: unknown): string {
  const value = (body as Record<string, unknown> | null | undefined)?.token;
  if (value === undefined || value === '') throw new OAuthException('invalid_request', 'Missing parameter "token"');
  if (Array.isArray(value)) throw new OAuthException('invalid_request', 'Parameter "token" is repeated');
  if (typeof value !== 'string') throw new OAuthException('invalid_request', 'Parameter "token" must be a string');
  return value;
}
