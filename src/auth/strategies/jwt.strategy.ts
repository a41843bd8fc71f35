import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { PassportStrategy } from '@nestjs/passport';
import { ExtractJwt, Strategy, type SecretOrKeyProvider } from 'passport-jwt';
import type { AppConfig } from '../../config/app-config.js';
import { KeysService } from '../../keys/keys.service.js';
import type { AccessTokenClaims } from '../access-token.service.js';
import type { AccessTokenPrincipal } from '../decorators/current-user.decorator.js';

/** Reads the `kid` from a JWT header without trusting anything else in it. */
function headerKid(rawJwt: string): string | undefined {
  try {
    const header = JSON.parse(Buffer.from(rawJwt.split('.')[0], 'base64url').toString('utf8')) as { kid?: unknown };
    return typeof header.kid === 'string' ? header.kid : undefined;
  } catch {
    return undefined;
  }
}

@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(keys: KeysService, config: ConfigService<AppConfig, true>) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      // Only keys we issued, only the algorithm we sign with: no `alg: none`, no key confusion.
      secretOrKeyProvider: ((_req, rawJwt, done) => {
        const key = keys.verificationKey(headerKid(rawJwt));
        if (!key) return done(new Error('unknown signing key'));
        // passport-jwt hands this to jsonwebtoken, which takes KeyObjects (its types say string | Buffer).
        done(null, key.key as unknown as Buffer);
      }) satisfies SecretOrKeyProvider,
      algorithms: ['HS256'],
      issuer: config.get('auth', { infer: true }).issuer,
      ignoreExpiration: false,
    });
  }

  validate(claims: Partial<AccessTokenClaims>): AccessTokenPrincipal | false {
    if (typeof claims.sub !== 'string' || typeof claims.sid !== 'string' || typeof claims.jti !== 'string') {
      return false;
    }
    return { userId: claims.sub, sessionId: claims.sid, tokenId: claims.jti };
  }
}
