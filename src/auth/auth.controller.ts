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
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiBody,
  ApiConflictResponse,
  ApiCookieAuth,
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { clientOf } from '../common/http/client-info.js';
import { InvalidRefreshTokenError } from '../sessions/invalid-refresh-token.error.js';
import type { User } from '../users/user.entity.js';
import { UsersService } from '../users/users.service.js';
import { AuthService, type TokenPair } from './auth.service.js';
import { CurrentUser, type AccessTokenPrincipal } from './decorators/current-user.decorator.js';
import { INVALID_CREDENTIALS } from './strategies/local.strategy.js';
import { Public } from './decorators/public.decorator.js';
import { ErrorResponseDto, MeResponseDto, TokenResponseDto, UserResponseDto } from './dto/auth-responses.dto.js';
import { ChangePasswordDto, LoginDto, RegisterDto } from './dto/credentials.dto.js';
import { LocalAuthGuard } from './guards/local-auth.guard.js';
import { RegisterThrottleGuard } from './guards/register-throttle.guard.js';
import { SameSiteGuard } from './guards/same-site.guard.js';
import { noStore, RefreshCookie, REFRESH_COOKIE } from './refresh-cookie.js';

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
  @ApiOperation({ summary: 'Create an account' })
  @ApiCreatedResponse({ type: UserResponseDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'Invalid body' })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'Username taken (case-insensitive)' })
  @ApiTooManyRequestsResponse({ type: ErrorResponseDto, description: 'Too many registrations from this IP; see Retry-After' })
  @ApiServiceUnavailableResponse({ type: ErrorResponseDto, description: 'Password hashing is saturated; see Retry-After' })
  async register(@Body() body: RegisterDto): Promise<UserResponseDto> {
    const user = await this.users.register(body.username, body.password);
    return { id: user.id, username: user.username, createdAt: new Date(user.createdAt).toISOString() };
  }

  @Public()
  // SameSiteGuard first: a cross-site form must not log the victim's browser into another account.
  @UseGuards(SameSiteGuard, LocalAuthGuard)
  @Post('login')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Log in with username and password',
    description: `Returns an access token and sets the \`${REFRESH_COOKIE}\` cookie (HttpOnly, SameSite=Strict, Path=/auth).`,
  })
  @ApiBody({ type: LoginDto })
  @ApiOkResponse({ type: TokenResponseDto })
  @ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'Wrong username or password' })
  @ApiTooManyRequestsResponse({ type: ErrorResponseDto, description: 'Too many failed attempts for this IP or username; see Retry-After' })
  @ApiForbiddenResponse({ type: ErrorResponseDto, description: 'Cross-site browser request (login CSRF defence)' })
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
  @ApiBearerAuth()
  @ApiOperation({ summary: 'The user behind the access token' })
  @ApiOkResponse({ type: MeResponseDto })
  @ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'Missing, invalid or expired access token' })
  me(@CurrentUser() principal: AccessTokenPrincipal): MeResponseDto {
    // The guard already checked the session and its user (a deleted user's sessions are gone).
    return { id: principal.userId, username: principal.username };
  }

  @Public()
  @UseGuards(SameSiteGuard)
  @Post('refresh')
  @HttpCode(HttpStatus.OK)
  @ApiCookieAuth()
  @ApiForbiddenResponse({ type: ErrorResponseDto, description: 'Cross-site browser request (CSRF defence)' })
  @ApiOperation({
    summary: 'Trade the refresh cookie for a new token pair',
    description:
      'The presented refresh token is used up and a new cookie is set. Re-presenting a used token revokes the session, except inside the grace window, where the same new token is returned again.',
  })
  @ApiOkResponse({ type: TokenResponseDto })
  @ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'Missing, unknown, expired, revoked or reused refresh token; the cookie is cleared' })
  async refresh(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<TokenResponseDto> {
    noStore(reply);
    try {
      const pair = await this.auth.refresh(this.cookie.read(request), clientOf(request));
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
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiCookieAuth()
  @ApiForbiddenResponse({ type: ErrorResponseDto, description: 'Cross-site browser request (CSRF defence)' })
  @ApiOperation({ summary: 'Revoke the session behind the refresh cookie and clear it (idempotent)' })
  @ApiNoContentResponse({ description: 'Logged out (also when already logged out)' })
  async logout(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<void> {
    await this.auth.logout(this.cookie.read(request), clientOf(request));
    this.cookie.clear(reply);
  }

  @Post('logout-all')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiBearerAuth()
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
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Change the password; every other session is revoked' })
  @ApiNoContentResponse({ description: 'Changed' })
  @ApiForbiddenResponse({ type: ErrorResponseDto, description: 'Current password is wrong' })
  @ApiTooManyRequestsResponse({ type: ErrorResponseDto, description: 'Too many wrong passwords; see Retry-After' })
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
