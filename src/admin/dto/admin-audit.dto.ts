import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsUUID } from 'class-validator';
import { AUDIT_EVENT_TYPES, type AuditEventType } from '../../audit/audit-event.entity.js';
import { AuditEventDto, AuditQueryDto } from '../../audit/dto/audit.dto.js';

export class AdminAuditQueryDto extends AuditQueryDto {
  @ApiPropertyOptional({ format: 'uuid', description: "Only this user's events" })
  @IsOptional()
  @IsUUID('all', { message: 'userId must be a user id (UUID)' })
  userId?: string;

  @ApiPropertyOptional({ enum: AUDIT_EVENT_TYPES, description: 'Only events of this type' })
  @IsOptional()
  @IsIn(AUDIT_EVENT_TYPES, { message: 'type must be an audit event type' })
  type?: AuditEventType;
}

/** An event as GET /auth/audit shows it, and whose it is: this list spans users. */
export class AdminAuditEventDto extends AuditEventDto {
  @ApiProperty({ nullable: true, type: String, format: 'uuid', description: 'Null for events of no account' })
  userId: string | null;
}

export class AdminAuditPageDto {
  @ApiProperty({ type: [AdminAuditEventDto] }) items: AdminAuditEventDto[];
  @ApiProperty({ nullable: true, type: String, description: 'Cursor for the next (older) page; null on the last page' })
  next: string | null;
}
