import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { JwtService } from '@nestjs/jwt';
import type { AppConfig, AuthConfig } from '../config/app-config.js';
import { KeysService } from '../keys/keys.service.js';

export interface AccessTokenClaims {
  sub: string;
  sid: string;
  jti: string;
  iat: number;
  exp: number;
  iss: string;
}

export interface SignedAccessToken {
  token: string;
  expiresIn: number;
}

/** Signs access tokens: short-lived JWTs naming the user (`sub`) and the session (`sid`). */
@Injectable()
export class AccessTokenService {
  private readonly auth: AuthConfig;

  constructor(
    private readonly jwt: JwtService,
    private readonly keys: KeysService,
    config: ConfigService<AppConfig, true>,
  ) {
    this.auth = config.get('auth', { infer: true });
  }

  sign(userId: string, sessionId: string): SignedAccessToken {
    const { kid, alg, key } = this.keys.currentSigningKey();
    const token = this.jwt.sign(
      { sid: sessionId },
      {
        privateKey: key,
        algorithm: alg,
        keyid: kid,
        subject: userId,
        issuer: this.auth.issuer,
        jwtid: randomUUID(),
        expiresIn: this.auth.accessTokenTtl,
      },
    );
    return { token, expiresIn: this.auth.accessTokenTtl };
  }
}
