import { OmitType } from '@nestjs/swagger';
import { SessionDto } from '../../sessions/dto/session.dto.js';

/** A session as GET /auth/sessions shows it, without `current` (no session of the admin's own is meant). */
export class AdminSessionDto extends OmitType(SessionDto, ['current'] as const) {}
