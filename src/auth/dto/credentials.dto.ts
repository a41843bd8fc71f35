import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length, Matches, MaxLength } from 'class-validator';

export class RegisterDto {
  @ApiProperty({ example: 'alice', minLength: 3, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' })
  @IsString()
  @Length(3, 64)
  @Matches(/^[A-Za-z0-9_.-]+$/, { message: 'username may contain only letters, digits, "_", "." and "-"' })
  username: string;

  @ApiProperty({ example: 'correct horse battery staple', minLength: 8, maxLength: 128, format: 'password' })
  @IsString()
  @Length(8, 128)
  password: string;
}

/** Control characters (NUL included, which PostgreSQL refuses in text) never belong in a username. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
export const NO_CONTROL_CHARACTERS = /^[^\u0000-\u001f\u007f]*$/;

/** Login checks only shape, not the registration rules: old accounts must still be able to log in. */
export class LoginDto {
  @ApiProperty({ example: 'alice', maxLength: 64 })
  @IsString()
  @Length(1, 64)
  @Matches(NO_CONTROL_CHARACTERS, { message: 'username must not contain control characters' })
  username: string;

  @ApiProperty({ example: 'correct horse battery staple', maxLength: 128, format: 'password' })
  @IsString()
  @Length(1, 128)
  password: string;

  @ApiPropertyOptional({
    description:
      'Space-separated scopes to grant the session (RFC 6749 §3.3), each one of ALLOWED_SCOPES; none when absent',
    example: 'notes:read',
    maxLength: 4096,
  })
  @IsOptional()
  @IsString()
  @MaxLength(4096)
  scope?: string;
}

export class ChangePasswordDto {
  @ApiProperty({ format: 'password', maxLength: 128 })
  @IsString()
  @Length(1, 128)
  currentPassword: string;

  @ApiProperty({ format: 'password', minLength: 8, maxLength: 128 })
  @IsString()
  @Length(8, 128)
  newPassword: string;
}
