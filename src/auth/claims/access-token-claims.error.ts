/**
 * A claims provider refused the token: it threw, or returned something that may not go into it.
 * The message names the provider and what went wrong; it is for the server's log, never for the
 * client (see AccessTokenNotIssuedException).
 */
export class AccessTokenClaimsError extends Error {
  override name = 'AccessTokenClaimsError';

  constructor(
    /** `Module/Provider` of the provider at fault. */
    readonly provider: string,
    problem: string,
  ) {
    super(`claims provider ${provider} ${problem}`);
  }
}
