import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { TokenResponseDto } from '../../auth/dto/auth-responses.dto.js';

export class TokenRequestDto {
  @ApiProperty({ enum: ['refresh_token', 'password'] })
  grant_type: string;

  @ApiPropertyOptional({ description: 'With grant_type=refresh_token' })
  refresh_token?: string;

  @ApiPropertyOptional({ description: 'With grant_type=password' })
  username?: string;

  @ApiPropertyOptional({ description: 'With grant_type=password', format: 'password' })
  password?: string;

  @ApiPropertyOptional({ description: 'Accepted and ignored: first-party public clients, no client registry yet' })
  client_id?: string;

  @ApiPropertyOptional({
    description:
      "Space-separated scopes (RFC 6749 §3.3). grant_type=password: granted to the new session, each one of ALLOWED_SCOPES. grant_type=refresh_token: a part of the session's grant for this access token (the session keeps its grant); absent, the whole grant",
    example: 'notes:read',
  })
  scope?: string;
}

export class OAuthTokenResponseDto extends TokenResponseDto {
  @ApiProperty({ description: 'Opaque refresh token; the one presented is used up' })
  refresh_token: string;
}

export class RevokeRequestDto {
  @ApiProperty({ description: 'A refresh token or an access token; either revokes its session' })
  token: string;

  @ApiPropertyOptional({ enum: ['refresh_token', 'access_token'] })
  token_type_hint?: string;
}

export class OAuthErrorDto {
  @ApiProperty({
    enum: [
      'invalid_request',
      'invalid_grant',
      'unsupported_grant_type',
      'invalid_scope',
      'invalid_client',
      'slow_down',
    ],
    description:
      '`slow_down` (with status 429) when logins or client authentications are throttled; `invalid_client` (401) for wrong client credentials',
    example: 'invalid_grant',
  })
  error: string;

  @ApiProperty({ example: 'The refresh token is invalid, expired, revoked or was already used' })
  error_description: string;
}

export class JwksDto {
  @ApiProperty({
    type: 'array',
    items: { type: 'object', additionalProperties: true },
    description: 'Public JWKs (RFC 7517)',
  })
  keys: object[];
}

export class AuthorizationServerMetadataDto {
  @ApiProperty() issuer: string;
  @ApiProperty() token_endpoint: string;
  @ApiProperty() revocation_endpoint: string;
  @ApiPropertyOptional({ description: 'Absent with JWT_ALG=HS256' }) jwks_uri?: string;
  @ApiProperty({ type: [String] }) grant_types_supported: string[];
  @ApiProperty({ type: [String] }) token_endpoint_auth_methods_supported: string[];
  @ApiProperty({ type: [String] }) revocation_endpoint_auth_methods_supported: string[];
  @ApiProperty({ description: 'POST /auth/introspect (RFC 7662), for resource-server clients' })
  introspection_endpoint: string;
  @ApiProperty({ type: [String], example: ['client_secret_basic'] })
  introspection_endpoint_auth_methods_supported: string[];
  @ApiProperty({ type: [String] }) response_types_supported: string[];
  @ApiPropertyOptional({ type: [String], description: 'ALLOWED_SCOPES; absent when unset' })
  scopes_supported?: string[];
  @ApiProperty() service_documentation: string;
}
