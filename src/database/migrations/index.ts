import { InitialSchema1764230400000 } from './1764230400000-initial-schema.js';
import { AuditEvents1764316800000 } from './1764316800000-audit-events.js';
import { CapacityLimits1764403200000 } from './1764403200000-capacity-limits.js';
import { AuditSources1764489600000 } from './1764489600000-audit-sources.js';
import { UserRoles1764576000000 } from './1764576000000-user-roles.js';
import { SessionScope1764662400000 } from './1764662400000-session-scope.js';
import { UserNotBefore1764748800000 } from './1764748800000-user-not-before.js';
import { Clients1764835200000 } from './1764835200000-clients.js';
import { UsersCreatedAt1764921600000 } from './1764921600000-users-created-at.js';
import { RevocationEvents1764925200000 } from './1764925200000-revocation-events.js';

/** In order. Listed explicitly so the app, the CLI data source and tests run the same set. */
export const MIGRATIONS = [
  InitialSchema1764230400000,
  AuditEvents1764316800000,
  CapacityLimits1764403200000,
  AuditSources1764489600000,
  UserRoles1764576000000,
  SessionScope1764662400000,
  UserNotBefore1764748800000,
  Clients1764835200000,
  UsersCreatedAt1764921600000,
  RevocationEvents1764925200000,
];
