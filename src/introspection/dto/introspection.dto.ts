import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class IntrospectionRequestDto {
  @ApiProperty({ description: 'The token to check; only access tokens can be active' })
  token: string;

  @ApiPropertyOptional({
    enum: ['access_token', 'refresh_token'],
    description: 'A hint only (RFC 7662 §2.1); every token is checked as an access token',
  })
  token_type_hint?: string;
}

/** RFC 7662 §2.2. An inactive token is exactly `{"active": false}`: nothing about why. */
export class IntrospectionResponseDto {
  @ApiProperty({ description: 'True only for an access token that the API would accept right now' }) active: boolean;
  @ApiPropertyOptional({ enum: ['Bearer'] }) token_type?: 'Bearer';
  @ApiPropertyOptional({ description: 'The user id' }) sub?: string;
  @ApiPropertyOptional({ description: 'The session id' }) sid?: string;
  @ApiPropertyOptional() username?: string;
  @ApiPropertyOptional({ type: [String], description: "The token's roles (the user's when it was issued)" })
  roles?: string[];
  @ApiPropertyOptional({ description: 'Space-separated; absent when the token has no scope' }) scope?: string;
  @ApiPropertyOptional({ type: 'integer', description: 'Epoch seconds' }) exp?: number;
  @ApiPropertyOptional({ type: 'integer', description: 'Epoch seconds' }) iat?: number;
  @ApiPropertyOptional() iss?: string;
  @ApiPropertyOptional() aud?: string;
  @ApiPropertyOptional() jti?: string;
}
