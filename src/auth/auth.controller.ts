import {
  Body,
  Controller,
  ForbiddenException,
  Get,
  HttpCode,
  HttpStatus,
  Post,
  Req,
  Res,
  UnauthorizedException,
  UseGuards,
} from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AcceptsBody, IgnoresBody, JSON_ONLY } from '../common/http/accepts-body.decorator.js';
import type { ClientInfo } from '../common/http/client-info.js';
import { Client } from '../common/http/client.decorator.js';
import { ApiErrorResponse, RETRY_AFTER_HEADER } from '../common/http/error-response.dto.js';
import { noStore } from '../common/http/no-store.js';
import { InvalidRefreshTokenError } from '../sessions/invalid-refresh-token.error.js';
import type { User } from '../users/user.entity.js';
import { UsersService } from '../users/users.service.js';
import { AuthService, type TokenPair } from './auth.service.js';
import { BearerAuth } from './decorators/bearer-auth.decorator.js';
import { CurrentUser, type AccessTokenPrincipal } from './decorators/current-user.decorator.js';
import { PasswordAuth } from './decorators/password-auth.decorator.js';
import { Public } from './decorators/public.decorator.js';
import { RefreshCookieAuth } from './decorators/refresh-cookie-auth.decorator.js';
import { MeResponseDto, TokenResponseDto, UserResponseDto } from './dto/auth-responses.dto.js';
import { ChangePasswordDto, RegisterDto } from './dto/credentials.dto.js';
import type { LoginRequest } from './guards/local-auth.guard.js';
import { RegisterThrottleGuard } from './guards/register-throttle.guard.js';
import { INVALID_CREDENTIALS } from './strategies/local.strategy.js';
import { MAX_REFRESH_COOKIES, RefreshCookie, REFRESH_COOKIE } from './refresh-cookie.js';
import { TooManyRefreshCookiesException } from './too-many-refresh-cookies.exception.js';

// Examples in the document: the messages the handlers below answer with.
const REFRESH_REFUSED = 'Refresh token is missing, invalid, expired or revoked; log in again';
const SEVERAL_COOKIES = `More than one ${REFRESH_COOKIE} cookie was sent; log in again`;
const WRONG_CURRENT_PASSWORD = 'Current password is incorrect';
const SET_REFRESH_COOKIE = {
  'Set-Cookie': {
    description: `\`${REFRESH_COOKIE}=…; HttpOnly; SameSite=Strict; Path=/auth; Max-Age=…\` (plus \`Secure\` when COOKIE_SECURE). The browser keeps it and sends it to /auth/refresh and /auth/logout by itself.`,
    schema: { type: 'string' },
  },
};

@ApiTags('auth')
@Controller('auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly users: UsersService,
    private readonly cookie: RefreshCookie,
  ) {}

  @Public()
  @UseGuards(RegisterThrottleGuard)
  @Post('register')
  @AcceptsBody(JSON_ONLY)
  @ApiOperation({ summary: 'Create an account' })
  @ApiCreatedResponse({ type: UserResponseDto })
  @ApiErrorResponse(HttpStatus.BAD_REQUEST, 'Invalid body: one message per invalid field')
  @ApiErrorResponse(HttpStatus.CONFLICT, 'Username taken (case-insensitive)', { message: 'Username is already taken' })
  @ApiErrorResponse(
    HttpStatus.TOO_MANY_REQUESTS,
    'Too many registrations from this IP, or too many password hashes at once from it; see Retry-After',
    {
      message: 'Too many registrations from this address; try again in 3600 s',
      headers: RETRY_AFTER_HEADER,
    },
  )
  @ApiErrorResponse(HttpStatus.SERVICE_UNAVAILABLE, 'Password hashing is saturated; see Retry-After', {
    headers: RETRY_AFTER_HEADER,
  })
  async register(@Body() body: RegisterDto, @Client() client: ClientInfo): Promise<UserResponseDto> {
    const user = await this.users.register(body.username, body.password, client.ip);
    return { id: user.id, username: user.username, createdAt: new Date(user.createdAt).toISOString() };
  }

  @PasswordAuth()
  @Post('login')
  @AcceptsBody(JSON_ONLY)
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Log in with username and password',
    description: `Returns an access token and sets the \`${REFRESH_COOKIE}\` cookie (HttpOnly, SameSite=Strict, Path=/auth). With \`scope\`, the session is granted those scopes (each one of ALLOWED_SCOPES, else 400 before the password is checked); the access tokens of every refresh carry them.`,
  })
  @ApiOkResponse({ type: TokenResponseDto, headers: SET_REFRESH_COOKIE })
  async login(
    @CurrentUser() user: User,
    @Req() request: FastifyRequest & Partial<LoginRequest>,
    @Client() client: ClientInfo,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TokenResponseDto> {
    const pair = await this.auth.login(user, client, request.grantedScope);
    if (!pair) throw new UnauthorizedException(INVALID_CREDENTIALS);
    return this.respondWithTokens(reply, pair);
  }

  @Get('me')
  @BearerAuth()
  @ApiOperation({ summary: 'The user behind the access token' })
  @ApiOkResponse({ type: MeResponseDto })
  me(@CurrentUser() principal: AccessTokenPrincipal): MeResponseDto {
    // The guard already checked the session and its user (a deleted user's sessions are gone).
    return { id: principal.userId, username: principal.username, roles: principal.roles };
  }

  @RefreshCookieAuth()
  @Post('refresh')
  @IgnoresBody()
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Trade the refresh cookie for a new token pair',
    description:
      'The presented refresh token is used up and a new cookie is set. Re-presenting a used token revokes the session, except inside the grace window, where the same new token is returned again. The access token carries the whole scope granted at login.',
  })
  @ApiOkResponse({ type: TokenResponseDto, headers: SET_REFRESH_COOKIE })
  @ApiErrorResponse(
    HttpStatus.UNAUTHORIZED,
    `Missing, unknown, expired, revoked or reused refresh token; the cookie is cleared. Also for more than one \`${REFRESH_COOKIE}\` cookie: every live session among them is revoked and the cookie is cleared on Path=/auth and Path=/ (beyond ${MAX_REFRESH_COOKIES} cookies none is looked at)`,
    { message: REFRESH_REFUSED },
  )
  async refresh(
    @Req() request: FastifyRequest,
    @Client() client: ClientInfo,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TokenResponseDto> {
    noStore(reply);
    const presented = this.cookie.readAll(request);
    if (presented.length > 1) {
      // Never let the first of several win: it may be a cookie planted for this host.
      this.cookie.clearEverywhere(reply);
      await this.auth.resolveCookieConflict(presented, 'refresh', client);
      throw new UnauthorizedException(SEVERAL_COOKIES);
    }
    try {
      const pair = await this.auth.refresh(presented[0], client);
      return this.respondWithTokens(reply, pair);
    } catch (error) {
      if (!(error instanceof InvalidRefreshTokenError)) throw error;
      this.cookie.clear(reply);
      throw new UnauthorizedException(REFRESH_REFUSED);
    }
  }

  @RefreshCookieAuth()
  @Post('logout')
  @IgnoresBody()
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({
    summary: 'Revoke the session behind the refresh cookie and clear it (idempotent)',
    description: `With more than one \`${REFRESH_COOKIE}\` cookie, the session of every presented token that is ours is revoked and the cookie is cleared on Path=/auth and Path=/.`,
  })
  @ApiNoContentResponse({ description: 'Logged out (also when already logged out)' })
  @ApiErrorResponse(
    HttpStatus.UNAUTHORIZED,
    `More than ${MAX_REFRESH_COOKIES} \`${REFRESH_COOKIE}\` cookies: none is looked at or revoked; the cookie is cleared on Path=/auth and Path=/`,
    { message: new TooManyRefreshCookiesException().message },
  )
  async logout(
    @Req() request: FastifyRequest,
    @Client() client: ClientInfo,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<void> {
    const presented = this.cookie.readAll(request);
    if (presented.length > 1) {
      this.cookie.clearEverywhere(reply);
      await this.auth.resolveCookieConflict(presented, 'logout', client);
      return;
    }
    await this.auth.logout(presented[0], client);
    this.cookie.clear(reply);
  }

  @Post('logout-all')
  @IgnoresBody()
  @HttpCode(HttpStatus.NO_CONTENT)
  @BearerAuth()
  @ApiOperation({ summary: 'Revoke every session of the user (all devices); their access tokens stop working too' })
  @ApiNoContentResponse({ description: 'All sessions revoked' })
  async logoutAll(
    @CurrentUser() principal: AccessTokenPrincipal,
    @Client() client: ClientInfo,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<void> {
    await this.auth.logoutAll(principal.userId, principal.sessionId, client);
    this.cookie.clear(reply);
  }

  @Post('password')
  @AcceptsBody(JSON_ONLY)
  @HttpCode(HttpStatus.NO_CONTENT)
  @BearerAuth()
  @ApiOperation({ summary: 'Change the password; every other session is revoked' })
  @ApiNoContentResponse({ description: 'Changed' })
  @ApiErrorResponse(HttpStatus.BAD_REQUEST, 'Invalid body: one message per invalid field', {
    message: ['newPassword must be longer than or equal to 8 characters'],
  })
  @ApiErrorResponse(HttpStatus.FORBIDDEN, 'Current password is wrong', { message: WRONG_CURRENT_PASSWORD })
  @ApiErrorResponse(HttpStatus.TOO_MANY_REQUESTS, 'Too many wrong passwords or password checks; see Retry-After', {
    headers: RETRY_AFTER_HEADER,
  })
  async changePassword(
    @CurrentUser() principal: AccessTokenPrincipal,
    @Body() body: ChangePasswordDto,
    @Client() client: ClientInfo,
  ): Promise<void> {
    const changed = await this.auth.changePassword(principal, body.currentPassword, body.newPassword, client);
    if (!changed) throw new ForbiddenException('Current password is incorrect');
  }

  private respondWithTokens(reply: FastifyReply, pair: TokenPair): TokenResponseDto {
    noStore(reply);
    this.cookie.set(reply, pair.refresh.token, pair.refresh.expiresAt);
    return {
      access_token: pair.access.token,
      token_type: 'Bearer',
      expires_in: pair.access.expiresIn,
      ...(pair.access.scope ? { scope: pair.access.scope } : {}),
    };
  }
}
