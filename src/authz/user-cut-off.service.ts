import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { AuditService } from '../audit/audit.service.js';
import type { AppConfig } from '../config/app-config.js';
import { RevocationEventRepository } from '../revocations/revocation-event.repository.js';
import { cutOffRevocationUntil } from '../revocations/revocation-horizon.js';
import { SessionRevocationBus } from '../sessions/session-revocation.bus.js';
import { SessionStateCache } from '../sessions/session-state.cache.js';
import { UserRepository } from '../users/user.repository.js';

/** Why a user's older access tokens were cut off. */
export type CutOffReason = 'role_granted' | 'role_revoked' | 'user_disabled';

/**
 * Makes a change to a user (roles, disabling) reach access tokens already issued, within a second
 * and without a new login: the user's cut-off `notBefore` becomes the next whole second after the
 * change, and tokens with an earlier `iat` are refused (SessionStateCache), here at once, at other
 * instances through the bus or, without Redis, within SESSION_STATE_TTL_MS. `iat` has whole-second
 * resolution, so "the next whole second" is the earliest cut-off that spares no token issued
 * before the change; AccessTokenService waits it out before issuing, so the client's next refresh
 * gets a token that passes (with the new roles). The cut-off is also an entry of the revocation
 * feed, stored with it, so resource servers refuse those tokens too.
 */
@Injectable()
export class UserCutOffService {
  private readonly accessTokenTtl: number;

  constructor(
    private readonly users: UserRepository,
    private readonly state: SessionStateCache,
    private readonly bus: SessionRevocationBus,
    private readonly audit: AuditService,
    private readonly revocations: RevocationEventRepository,
    config: ConfigService<AppConfig, true>,
  ) {
    this.accessTokenTtl = config.get('auth', { infer: true }).accessTokenTtl;
  }

  /**
   * Call after the change is committed, and let `now` default: the cut-off must be taken from a
   * moment after the commit, so that a token issued with the old roles before it is always
   * earlier (AccessTokenService re-reads the roles after fixing iat for the other side of that
   * race). Returns the cut-off (ms).
   */
  async cutOff(userId: string, reason: CutOffReason, actor?: object, now = Date.now()): Promise<number> {
    const notBefore = (Math.floor(now / 1000) + 1) * 1000;
    const entry = {
      sub: userId,
      notBefore: notBefore / 1000,
      until: cutOffRevocationUntil(notBefore / 1000, this.accessTokenTtl),
    };
    await this.users.raiseNotBefore(userId, notBefore, this.revocations.insertions([entry], now));
    this.state.markUserCutOff(userId, notBefore);
    await this.bus.userCutOff(userId, notBefore);
    await this.audit.record(
      'tokens_cut_off',
      { userId, detail: { notBefore: notBefore / 1000, reason, ...actor } },
      now,
    );
    return notBefore;
  }
}
