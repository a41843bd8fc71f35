import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class UserResponseDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ example: 'alice' })
  username: string;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;
}

export class MeResponseDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ example: 'alice' })
  username: string;

  @ApiProperty({
    type: [String],
    example: ['admin'],
    description: 'The roles in the access token (granted by `npm run users -- grant`); they change at the next refresh',
  })
  roles: string[];
}

export class TokenResponseDto {
  @ApiProperty({ description: 'JWT to send as `Authorization: Bearer <token>`' })
  access_token: string;

  @ApiProperty({ enum: ['Bearer'] })
  token_type: 'Bearer';

  @ApiProperty({ description: 'Seconds until the access token expires', example: 3600 })
  expires_in: number;

  @ApiPropertyOptional({
    description: 'Space-separated scopes of the access token (its `scope` claim); absent when it has none',
    example: 'notes:read',
  })
  scope?: string;
}
