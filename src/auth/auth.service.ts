import { Injectable } from '@nestjs/common';
import { SessionsService, type ClientInfo, type IssuedRefreshToken } from '../sessions/sessions.service.js';
import { AccessTokenService, type SignedAccessToken } from './access-token.service.js';

export interface TokenPair {
  access: SignedAccessToken;
  refresh: IssuedRefreshToken;
}

/** The login / refresh / logout flow, tying sessions to access tokens. */
@Injectable()
export class AuthService {
  constructor(
    private readonly sessions: SessionsService,
    private readonly accessTokens: AccessTokenService,
  ) {}

  /** Starts a session for an authenticated user and returns its first token pair. */
  async login(userId: string, client: ClientInfo): Promise<TokenPair> {
    const refresh = await this.sessions.create(userId, client);
    return { access: this.accessTokens.sign(userId, refresh.sessionId), refresh };
  }

  /** Trades a refresh token for a new pair; throws InvalidRefreshTokenError. */
  async refresh(refreshToken: unknown): Promise<TokenPair> {
    const refresh = await this.sessions.rotate(refreshToken);
    return { access: this.accessTokens.sign(refresh.userId, refresh.sessionId), refresh };
  }

  logout(refreshToken: unknown): Promise<void> {
    return this.sessions.revokeByToken(refreshToken, 'logout');
  }
}
