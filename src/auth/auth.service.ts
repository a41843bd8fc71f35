import { Injectable, Logger } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import type { ClientInfo } from '../common/http/client-info.js';
import { clientBucket } from '../common/http/ip-bucket.js';
import { ServerBusyException } from '../common/http/server-busy.exception.js';
import { TooManyAttemptsException } from '../common/http/too-many-attempts.exception.js';
import { RefreshTokenRotationService } from '../sessions/refresh-token-rotation.service.js';
import { SessionsService, type IssuedRefreshToken } from '../sessions/sessions.service.js';
import type { User } from '../users/user.entity.js';
import { UsersService } from '../users/users.service.js';
import { AccessTokenService, type SignedAccessToken } from './access-token.service.js';
import { AccessTokenNotIssuedException } from './access-token-not-issued.exception.js';
import { AccountDisabledException } from './account-disabled.exception.js';
import { AccessTokenClaimsError } from './claims/access-token-claims.error.js';
import type { AccessTokenGrant } from './claims/access-token-claims.provider.js';
import { ScopePolicyService } from './scopes/scope-policy.service.js';
import { LoginThrottleService, type LoginAttempt } from './login-throttle.service.js';
import { MAX_REFRESH_COOKIES } from './refresh-cookie.js';
import { TooManyRefreshCookiesException } from './too-many-refresh-cookies.exception.js';

const conflictLogger = new Logger('Audit');
const claimsLogger = new Logger('AccessTokenClaims');
/** A session's refresh_cookie_conflict events make at most one audit row per this window, with a count. */
const COOKIE_CONFLICT_AUDIT_WINDOW_MS = 3_600_000;

export interface TokenPair {
  access: SignedAccessToken;
  refresh: IssuedRefreshToken;
}

/** The login / refresh / logout flow, tying sessions to access tokens, with throttling and audit. */
@Injectable()
export class AuthService {
  private unmatchedConflicts = 0;
  private unmatchedConflictsLoggedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly users: UsersService,
    private readonly sessions: SessionsService,
    private readonly rotation: RefreshTokenRotationService,
    private readonly accessTokens: AccessTokenService,
    private readonly throttle: LoginThrottleService,
    private readonly audit: AuditService,
    private readonly scopes: ScopePolicyService,
  ) {}

  /**
   * Checks a username and password, counting it (and failures) toward the throttle. Returns the
   * user, or null for a wrong password and an unknown user alike. Throws TooManyAttemptsException
   * (throttled, or the client is over its share of password hashing), and ServerBusyException
   * when password hashing is saturated. The right password of a disabled account throws
   * AccountDisabledException; the attempt still counts as a failure toward the throttle.
   */
  async verifyLogin(username: string, password: string, client: ClientInfo): Promise<User | null> {
    const attempt = await this.beginAttempt(username, client);
    const user = await this.refundingWhenRefused(attempt, () =>
      this.users.verifyCredentials(username, password, client.ip),
    );
    if (user && user.disabledAt !== null) {
      await this.audit.record('login_failure', { userId: user.id, ...client, detail: { reason: 'account_disabled' } });
      throw new AccountDisabledException();
    }
    if (user) await attempt.succeeded();
    else await this.audit.record('login_failure', { userId: await this.users.findIdByUsername(username), ...client });
    return user;
  }

  /**
   * Runs a password check; when hashing refused to take it (503 when saturated, 429 when the
   * client is over its share), gives the attempt back: no password was checked, so it must not
   * count toward any limit of the user or the address.
   */
  private async refundingWhenRefused<T>(attempt: LoginAttempt, check: () => Promise<T>): Promise<T> {
    try {
      return await check();
    } catch (error) {
      if (error instanceof ServerBusyException || error instanceof TooManyAttemptsException) await attempt.notChecked();
      throw error;
    }
  }

  /** Reserves a password attempt; a throttled one is audited and answered with 429. */
  private async beginAttempt(username: string, client: ClientInfo): Promise<LoginAttempt> {
    try {
      return await this.throttle.begin(client.ip, username);
    } catch (error) {
      if (error instanceof TooManyAttemptsException) {
        // Refusals cost the attacker nothing and come by the thousand, from as many addresses as
        // it has: one row per username and window, counting them and listing the addresses,
        // rather than one row each (or one per address) in the victim's audit log.
        await this.audit.recordRepeatable(
          'login_throttled',
          username,
          this.throttle.refusalScope(),
          { ...client, detail: { retryAfter: error.retryAfterSeconds } },
          clientBucket(client.ip),
        );
      }
      throw error;
    }
  }

  /**
   * Starts a session for a user verifyLogin() just returned and returns its first token pair;
   * null when the password changed since it was checked (the caller answers as for a wrong one).
   * `scope`: the tokens granted, from ScopePolicyService.requested (checked before the password).
   */
  async login(
    user: Pick<User, 'id' | 'passwordHash'>,
    client: ClientInfo,
    scope: readonly string[] = [],
  ): Promise<TokenPair | null> {
    const userId = user.id;
    const grant = this.scopes.effective(scope);
    const refresh = await this.sessions.create(userId, client, Date.now(), user.passwordHash, grant);
    if (!refresh) {
      await this.audit.record('login_failure', {
        userId,
        ...client,
        detail: { reason: 'password_changed_during_login' },
      });
      return null;
    }
    // Signed before the login counts as one: a token refused by a claims provider must not have
    // evicted the user's older sessions for a session that never reached the client.
    const access = await this.signOrRevoke(refresh, grant, 'password');
    await this.audit.record('login_success', { userId, sessionId: refresh.sessionId, ...client });
    for (const evicted of await this.sessions.evictBeyondLimit(userId, refresh.sessionId)) {
      await this.audit.record('session_evicted', {
        userId,
        sessionId: evicted,
        ...client,
        detail: { bySessionId: refresh.sessionId },
      });
    }
    return { access, refresh };
  }

  /**
   * Trades a refresh token for a new pair; throws InvalidRefreshTokenError. A routine refresh is
   * not an audit event (the session's last_used_at records it); reuse detection is.
   * The access token carries the session's whole grant, or `scope` (tokens) when given: a part
   * of it (RFC 6749 §6); beyond the grant, InvalidScopeError and the refresh token stays unused.
   */
  async refresh(refreshToken: unknown, client: ClientInfo = {}, scope?: readonly string[]): Promise<TokenPair> {
    const refresh = await this.rotation.rotate(refreshToken, client, Date.now(), scope);
    const granted = this.scopes.effective(scope ?? refresh.scope?.split(' ') ?? []);
    return { access: await this.signOrRevoke(refresh, granted, 'refresh_token'), refresh };
  }

  /**
   * The access token for a session just started or rotated. When a claims provider refuses it,
   * the session is revoked (the client never gets its refresh token: left live, a login would
   * be a session nobody holds, and a rotated token one that only reuse detection would end,
   * as a false theft alarm), one line is logged, and the client gets a bare 500.
   */
  private async signOrRevoke(
    refresh: IssuedRefreshToken,
    scope: string | undefined,
    grant: AccessTokenGrant,
  ): Promise<SignedAccessToken> {
    try {
      return await this.accessTokens.sign({ ...refresh, scope, sessionScope: refresh.scope, grant });
    } catch (error) {
      if (!(error instanceof AccessTokenClaimsError)) throw error;
      const { userId, sessionId } = refresh;
      const revoked = await this.sessions
        .revoke(sessionId, 'claims_provider_failed')
        .catch((failure: unknown) => `revoking it failed: ${String(failure).replace(/\s+/g, ' ')}`);
      const outcome = revoked === true ? 'revoked' : `not revoked (${revoked || 'it had ended already'})`;
      claimsLogger.error({
        msg: `Access token not issued (${grant} grant): ${error.message}; session ${outcome}`,
        event: 'access_token_refused',
        grant,
        userId,
        sessionId,
        provider: error.provider,
        sessionRevoked: revoked === true,
      });
      throw new AccessTokenNotIssuedException();
    }
  }

  /** Revokes the session behind a refresh token (current or already rotated). */
  async logout(refreshToken: unknown, client: ClientInfo = {}): Promise<void> {
    const revoked = await this.sessions.revokeByToken(refreshToken, 'logout');
    if (revoked) await this.audit.record('logout', { userId: revoked.userId, sessionId: revoked.sessionId, ...client });
  }

  /**
   * Conflicts that name no live session of ours write no audit row (an unauthenticated client
   * could write them at will); they are logged, at most once a minute, with how many there were.
   */
  private logUnmatchedConflict(entry: Record<string, unknown>, now: number): void {
    this.unmatchedConflicts += 1;
    if (now - this.unmatchedConflictsLoggedAt < 60_000) return;
    conflictLogger.warn({ ...entry, occurrencesSinceLastLog: this.unmatchedConflicts });
    this.unmatchedConflicts = 0;
    this.unmatchedConflictsLoggedAt = now;
  }

  /**
   * A request with several `refresh_token` cookies (one planted beside ours). No token is issued
   * and the first cookie does not win: every live session of ours among them is revoked (reason
   * `refresh_cookie_conflict` on refresh, `logout` on logout), the planted one and the victim's
   * alike, since the planter may know the victim's token too (session fixation). Audited once per
   * session and hour, repeats counted; tokens of nobody's leave a log line only, so an
   * unauthenticated client cannot write rows at will. Beyond MAX_REFRESH_COOKIES it throws
   * TooManyRefreshCookiesException without looking anything up.
   */
  async resolveCookieConflict(
    presented: string[],
    route: 'refresh' | 'logout',
    client: ClientInfo = {},
    now = Date.now(),
  ): Promise<void> {
    const cookies = presented.length;
    if (cookies > MAX_REFRESH_COOKIES) {
      this.logUnmatchedConflict(
        {
          event: 'refresh_cookie_conflict',
          route,
          cookies,
          ip: client.ip ?? null,
          refusedUnread: true,
        },
        now,
      );
      throw new TooManyRefreshCookiesException();
    }
    const sessions = await this.sessions.liveSessionsOf(presented, now);
    if (!sessions.length) {
      this.logUnmatchedConflict(
        { event: 'refresh_cookie_conflict', route, cookies, ip: client.ip ?? null, liveSessions: 0 },
        now,
      );
      return;
    }
    const scope = String(Math.floor(now / COOKIE_CONFLICT_AUDIT_WINDOW_MS));
    for (const session of sessions) {
      const revoked = await this.sessions.revoke(
        session.sessionId,
        route === 'refresh' ? 'refresh_cookie_conflict' : 'logout',
        now,
      );
      // A revocation happens once per session, so its logout row is bounded by nature.
      if (revoked && route === 'logout') await this.audit.record('logout', { ...session, ...client }, now);
      const detail = { route, cookies, liveSessions: sessions.length, sessionRevoked: revoked };
      await this.audit.recordRepeatableForSession(
        'refresh_cookie_conflict',
        session,
        scope,
        { ...client, detail },
        now,
      );
    }
  }

  /** Revokes every session of the user, including the caller's. */
  async logoutAll(userId: string, sessionId: string, client: ClientInfo): Promise<void> {
    const count = await this.sessions.revokeAllForUser(userId, 'logout_all');
    await this.audit.record('logout_all', { userId, sessionId, ...client, detail: { sessionsRevoked: count } });
  }

  /**
   * Changes the password and signs out every other session; false when the current password is
   * wrong. Guesses of the current password count toward the same throttle as logins: a stolen
   * access token must not become an unlimited password oracle.
   */
  async changePassword(
    principal: { userId: string; username: string; sessionId: string },
    currentPassword: string,
    newPassword: string,
    client: ClientInfo,
  ): Promise<boolean> {
    const { userId, sessionId } = principal;
    const attempt = await this.beginAttempt(principal.username, client);
    const hashing = { ip: client.ip, username: principal.username };
    if (
      !(await this.refundingWhenRefused(attempt, () =>
        this.users.changePassword(userId, currentPassword, newPassword, hashing),
      ))
    ) {
      await this.audit.record('password_change_failure', { userId, sessionId, ...client });
      return false;
    }
    await attempt.succeeded();
    const count = await this.sessions.revokeAllForUser(userId, 'password_changed', sessionId);
    await this.audit.record('password_changed', {
      userId,
      sessionId,
      ...client,
      detail: { otherSessionsRevoked: count },
    });
    return true;
  }
}
