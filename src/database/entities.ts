import { AuditEventSource } from '../audit/audit-event-source.entity.js';
import { AuditEvent } from '../audit/audit-event.entity.js';
import { ApiClient } from '../clients/api-client.entity.js';
import { SigningKey } from '../keys/signing-key.entity.js';
import { RevocationEvent } from '../revocations/revocation-event.entity.js';
import { RefreshToken } from '../sessions/refresh-token.entity.js';
import { Session } from '../sessions/session.entity.js';
import { UserRole } from '../users/user-role.entity.js';
import { User } from '../users/user.entity.js';

/** Listed explicitly: glob loading is fragile under ESM and in jest. */
export const ENTITIES = [
  User,
  Session,
  RefreshToken,
  SigningKey,
  AuditEvent,
  AuditEventSource,
  UserRole,
  ApiClient,
  RevocationEvent,
];
