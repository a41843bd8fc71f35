import { Body, Controller, Get, Header, HttpCode, HttpStatus, Post, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConsumes,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/decorators/public.decorator.js';
import { AcceptsBody, FORM_OR_JSON } from '../common/http/accepts-body.decorator.js';
import type { ClientInfo } from '../common/http/client-info.js';
import { Client } from '../common/http/client.decorator.js';
import { RETRY_AFTER_HEADER } from '../common/http/error-response.dto.js';
import { noStore } from '../common/http/no-store.js';
import { KeysService } from '../keys/keys.service.js';
import {
  AuthorizationServerMetadataDto,
  JwksDto,
  OAuthErrorDto,
  OAuthTokenResponseDto,
  RevokeRequestDto,
  TokenRequestDto,
} from './dto/oauth.dto.js';
import { OAuthParams } from './oauth-params.js';
import { OAuthService } from './oauth.service.js';

/** Public metadata is cacheable; a few minutes keeps key rotation visible quickly. */
const METADATA_CACHE = 'public, max-age=300';

// Tagged per route: the JWKS belongs under "keys".
@Public()
@Controller()
export class OAuthController {
  constructor(
    private readonly oauth: OAuthService,
    private readonly keys: KeysService,
  ) {}

  @Post('auth/token')
  @AcceptsBody(FORM_OR_JSON)
  @HttpCode(HttpStatus.OK)
  @ApiTags('oauth')
  @ApiOperation({
    summary: 'OAuth 2.0 token endpoint (RFC 6749 §5, §6)',
    description:
      "grant_type=refresh_token (same rotation, reuse detection and grace window as /auth/refresh) or grant_type=password (first-party clients; see PASSWORD_GRANT_ENABLED). Form-encoded or JSON. `scope`: with the password grant, the scopes granted to the new session; with the refresh grant, a part of the session's grant for this access token only (absent: the whole grant).",
  })
  @ApiConsumes('application/x-www-form-urlencoded', 'application/json')
  @ApiBody({ type: TokenRequestDto })
  @ApiOkResponse({ type: OAuthTokenResponseDto })
  @ApiBadRequestResponse({
    type: OAuthErrorDto,
    description:
      "invalid_request, invalid_grant, unsupported_grant_type, or invalid_scope (a scope not in ALLOWED_SCOPES, or beyond the grant of the refresh token's session)",
  })
  @ApiTooManyRequestsResponse({
    type: OAuthErrorDto,
    description:
      'grant_type=password: too many failed attempts or password checks for this IP or username, or too many at once from it; see Retry-After',
    headers: RETRY_AFTER_HEADER,
    example: { error: 'slow_down', error_description: 'Too many failed login attempts; try again in 900 s' },
  })
  async token(
    @Body() body: unknown,
    @Client() client: ClientInfo,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<OAuthTokenResponseDto> {
    noStore(reply);
    const pair = await this.oauth.token(OAuthParams.from(body), client);
    return {
      access_token: pair.access.token,
      token_type: 'Bearer',
      expires_in: pair.access.expiresIn,
      refresh_token: pair.refresh.token,
      ...(pair.access.scope ? { scope: pair.access.scope } : {}),
    };
  }

  @Post('auth/revoke')
  @AcceptsBody(FORM_OR_JSON)
  @HttpCode(HttpStatus.OK)
  @ApiTags('oauth')
  @ApiOperation({
    summary: 'OAuth 2.0 token revocation (RFC 7009)',
    description: 'Revokes the session of a refresh or access token. Always 200, also for unknown tokens.',
  })
  @ApiConsumes('application/x-www-form-urlencoded', 'application/json')
  @ApiBody({ type: RevokeRequestDto })
  @ApiOkResponse({ description: 'Revoked, or nothing to revoke' })
  @ApiBadRequestResponse({
    type: OAuthErrorDto,
    description: 'Missing token parameter',
    example: { error: 'invalid_request', error_description: 'Missing parameter "token"' },
  })
  async revoke(
    @Body() body: unknown,
    @Client() client: ClientInfo,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<void> {
    noStore(reply);
    await this.oauth.revoke(OAuthParams.from(body), client);
  }

  @Get('.well-known/jwks.json')
  @Header('Cache-Control', METADATA_CACHE)
  @ApiTags('keys')
  @ApiOperation({ summary: 'Public keys that verify our access tokens (RFC 7517)' })
  @ApiOkResponse({ type: JwksDto })
  jwks(): JwksDto {
    return this.keys.jwks();
  }

  @Get('.well-known/oauth-authorization-server')
  @Header('Cache-Control', METADATA_CACHE)
  @ApiTags('oauth')
  @ApiOperation({ summary: 'Authorization server metadata (RFC 8414)' })
  @ApiOkResponse({ type: AuthorizationServerMetadataDto })
  metadata(): AuthorizationServerMetadataDto {
    return this.oauth.metadata();
  }
}
