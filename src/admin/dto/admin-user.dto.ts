import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsBoolean, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { NO_CONTROL_CHARACTERS } from '../../auth/dto/credentials.dto.js';
import { ROLE_NAME } from '../../users/role-name.js';
import { PageQueryDto } from '../../common/dto/page-query.dto.js';

/** More roles than anyone hands out, few enough that one request stays cheap. */
export const MAX_ROLES_PER_USER = 32;

export class AdminUsersQueryDto extends PageQueryDto {
  @ApiPropertyOptional({
    description: 'Only users whose username starts with this, in any letter case (`%` and `_` are plain characters)',
    example: 'ali',
    maxLength: 64,
  })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  @Matches(NO_CONTROL_CHARACTERS, { message: 'q must not contain control characters' })
  q?: string;
}

export class AdminUserDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'alice' }) username: string;
  @ApiProperty({ type: [String], example: ['admin'], description: 'Sorted; [] when none' }) roles: string[];
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'Null while the user may log in' })
  disabledAt: string | null;
  @ApiProperty({ type: 'integer', description: 'Sessions that can still be refreshed', example: 1 })
  activeSessions: number;
}

export class AdminUserPageDto {
  @ApiProperty({ type: [AdminUserDto] }) items: AdminUserDto[];
  @ApiProperty({ nullable: true, type: String, description: 'Cursor for the next (newer) page; null on the last page' })
  next: string | null;
}

/** At least one of the two (checked by the service: class-validator has no "one of" rule that reads well). */
export class UpdateUserDto {
  @ApiPropertyOptional({
    type: [String],
    description: `The user's whole new set of roles: those added are granted, those left out revoked. Each matches ${String(ROLE_NAME)}.`,
    example: ['admin', 'support'],
    maxItems: MAX_ROLES_PER_USER,
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_ROLES_PER_USER)
  @IsString({ each: true })
  @Matches(ROLE_NAME, { each: true, message: `each value in roles must match ${String(ROLE_NAME)}` })
  roles?: string[];

  @ApiPropertyOptional({ description: 'true disables the user (and revokes all their sessions); false enables them' })
  @IsOptional()
  @IsBoolean()
  disabled?: boolean;
}
