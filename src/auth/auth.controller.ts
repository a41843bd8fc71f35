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
import {
  ApiBody,
  ApiCookieAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AcceptsBody, IgnoresBody, JSON_ONLY } from '../common/http/accepts-body.decorator.js';
import { clientOf } from '../common/http/client-info.js';
import { ApiErrorResponse, RETRY_AFTER_HEADER } from '../common/http/error-response.dto.js';
import { InvalidRefreshTokenError } from '../sessions/invalid-refresh-token.error.js';
import type { User } from '../users/user.entity.js';
import { UsersService } from '../users/users.service.js';
import { AuthService, type TokenPair } from './auth.service.js';
import { ApiAccessToken } from './decorators/api-access-token.decorator.js';
import { CurrentUser, type AccessTokenPrincipal } from './decorators/current-user.decorator.js';
import { INVALID_CREDENTIALS } from './strategies/local.strategy.js';
import { Public } from './decorators/public.decorator.js';
import { MeResponseDto, TokenResponseDto, UserResponseDto } from './dto/auth-responses.dto.js';
import { ChangePasswordDto, LoginDto, RegisterDto } from './dto/credentials.dto.js';
import { LocalAuthGuard } from './guards/local-auth.guard.js';
import { RegisterThrottleGuard } from './guards/register-throttle.guard.js';
import { SameSiteGuard } from './guards/same-site.guard.js';
import { noStore, RefreshCookie, REFRESH_COOKIE } from './refresh-cookie.js';

// Examples in the document: the messages the handlers and guards below answer with.
const CROSS_SITE = 'Cross-site request refused';
const REFRESH_REFUSED = 'Refresh token is missing, invalid, expired or revoked; log in again';
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
  @ApiErrorResponse(HttpStatus.TOO_MANY_REQUESTS, 'Too many registrations from this IP, or too many password hashes at once from it; see Retry-After', {
    message: 'Too many registrations from this address; try again in 3600 s',
    headers: RETRY_AFTER_HEADER,
  })
  @ApiErrorResponse(HttpStatus.SERVICE_UNAVAILABLE, 'Password hashing is saturated; see Retry-After', { headers: RETRY_AFTER_HEADER })
  async register(@Body() body: RegisterDto, @Req() request: FastifyRequest): Promise<UserResponseDto> {
    const user = await this.users.register(body.username, body.password, clientOf(request).ip);
    return { id: user.id, username: user.username, createdAt: new Date(user.createdAt).toISOString() };
  }

  @Public()
  // SameSiteGuard first: a cross-site form must not log the victim's browser into another account.
  @UseGuards(SameSiteGuard, LocalAuthGuard)
  @Post('login')
  @AcceptsBody(JSON_ONLY)
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Log in with username and password',
    description: `Returns an access token and sets the \`${REFRESH_COOKIE}\` cookie (HttpOnly, SameSite=Strict, Path=/auth).`,
  })
  @ApiBody({ type: LoginDto })
  @ApiOkResponse({ type: TokenResponseDto, headers: SET_REFRESH_COOKIE })
  @ApiErrorResponse(HttpStatus.BAD_REQUEST, 'Invalid body: one message per invalid field', {
    message: ['username must be longer than or equal to 1 characters'],
  })
  @ApiErrorResponse(HttpStatus.UNAUTHORIZED, 'Wrong username or password (the same answer for unknown users)', {
    message: INVALID_CREDENTIALS,
  })
  @ApiErrorResponse(HttpStatus.FORBIDDEN, 'Cross-site browser request (login CSRF defence)', { message: CROSS_SITE })
  @ApiErrorResponse(
    HttpStatus.TOO_MANY_REQUESTS,
    'Too many failed attempts or password checks for this IP or username, or too many at once from it; see Retry-After',
    { headers: RETRY_AFTER_HEADER },
  )
  async login(
    @CurrentUser() user: User,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TokenResponseDto> {
    const pair = await this.auth.login(user, clientOf(request));
    if (!pair) throw new UnauthorizedException(INVALID_CREDENTIALS);
    return this.respondWithTokens(reply, pair);
  }

  @Get('me')
  @ApiAccessToken()
  @ApiOperation({ summary: 'The user behind the access token' })
  @ApiOkResponse({ type: MeResponseDto })
  me(@CurrentUser() principal: AccessTokenPrincipal): MeResponseDto {
    // The guard already checked the session and its user (a deleted user's sessions are gone).
    return { id: principal.userId, username: principal.username };
  }

  @Public()
  @UseGuards(SameSiteGuard)
  @Post('refresh')
  @IgnoresBody()
  @HttpCode(HttpStatus.OK)
  @ApiCookieAuth()
  @ApiErrorResponse(HttpStatus.FORBIDDEN, 'Cross-site browser request (CSRF defence)', { message: CROSS_SITE })
  @ApiOperation({
    summary: 'Trade the refresh cookie for a new token pair',
    description:
      'The presented refresh token is used up and a new cookie is set. Re-presenting a used token revokes the session, except inside the grace window, where the same new token is returned again.',
  })
  @ApiOkResponse({ type: TokenResponseDto, headers: SET_REFRESH_COOKIE })
  @ApiErrorResponse(HttpStatus.UNAUTHORIZED, 'Missing, unknown, expired, revoked or reused refresh token; the cookie is cleared', {
    message: REFRESH_REFUSED,
  })
  async refresh(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<TokenResponseDto> {
    noStore(reply);
    const presented = this.cookie.readAll(request);
    if (presented.length > 1) {
      // Never let the first of several win: it may be a cookie planted for this host.
      await this.auth.refuseConflictingCookies(presented, clientOf(request));
      this.cookie.clearEverywhere(reply);
      throw new UnauthorizedException(`More than one ${REFRESH_COOKIE} cookie was sent; log in again`);
    }
    try {
      const pair = await this.auth.refresh(presented[0], clientOf(request));
      return this.respondWithTokens(reply, pair);
    } catch (error) {
      if (!(error instanceof InvalidRefreshTokenError)) throw error;
      this.cookie.clear(reply);
      throw new UnauthorizedException('Refresh token is missing, invalid, expired or revoked; log in again');
    }
  }

  @Public()
  @UseGuards(SameSiteGuard)
  @Post('logout')
  @IgnoresBody()
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiCookieAuth()
  @ApiErrorResponse(HttpStatus.FORBIDDEN, 'Cross-site browser request (CSRF defence)', { message: CROSS_SITE })
  @ApiOperation({ summary: 'Revoke the session behind the refresh cookie and clear it (idempotent)' })
  @ApiNoContentResponse({ description: 'Logged out (also when already logged out)' })
  async logout(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<void> {
    const presented = this.cookie.readAll(request);
    if (presented.length > 1) {
      await this.auth.logoutAllPresented(presented, clientOf(request));
      this.cookie.clearEverywhere(reply);
      return;
    }
    await this.auth.logout(presented[0], clientOf(request));
    this.cookie.clear(reply);
  }

  @Post('logout-all')
  @IgnoresBody()
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiAccessToken()
  @ApiOperation({ summary: 'Revoke every session of the user (all devices); their access tokens stop working too' })
  @ApiNoContentResponse({ description: 'All sessions revoked' })
  async logoutAll(
    @CurrentUser() principal: AccessTokenPrincipal,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<void> {
    await this.auth.logoutAll(principal.userId, principal.sessionId, clientOf(request));
    this.cookie.clear(reply);
  }

  @Post('password')
  @AcceptsBody(JSON_ONLY)
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiAccessToken()
  @ApiOperation({ summary: 'Change the password; every other session is revoked' })
  @ApiNoContentResponse({ description: 'Changed' })
  @ApiErrorResponse(HttpStatus.BAD_REQUEST, 'Invalid body: one message per invalid field', {
    message: ['newPassword must be longer than or equal to 8 characters'],
  })
  @ApiErrorResponse(HttpStatus.FORBIDDEN, 'Current password is wrong', { message: WRONG_CURRENT_PASSWORD })
  @ApiErrorResponse(HttpStatus.TOO_MANY_REQUESTS, 'Too many wrong passwords or password checks; see Retry-After', { headers: RETRY_AFTER_HEADER })
  async changePassword(
    @CurrentUser() principal: AccessTokenPrincipal,
    @Body() body: ChangePasswordDto,
    @Req() request: FastifyRequest,
  ): Promise<void> {
    const changed = await this.auth.changePassword(principal, body.currentPassword, body.newPassword, clientOf(request));
    if (!changed) throw new ForbiddenException('Current password is incorrect');
  }

  private respondWithTokens(reply: FastifyReply, pair: TokenPair): TokenResponseDto {
    noStore(reply);
    this.cookie.set(reply, pair.refresh.token, pair.refresh.expiresAt);
    return { access_token: pair.access.token, token_type: 'Bearer', expires_in: pair.access.expiresIn };
  }
}
