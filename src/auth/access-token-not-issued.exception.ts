import { HttpException, HttpStatus } from '@nestjs/common';

/**
 * 500 with the body of any other server error: a claims provider refused the token (see
 * AccessTokenClaimsError, which the server logs). Nothing of the provider's error reaches the
 * client, and the filter logs no stack for it: the one line AuthService wrote says it all.
 */
export class AccessTokenNotIssuedException extends HttpException {
  constructor() {
    super('Internal server error', HttpStatus.INTERNAL_SERVER_ERROR);
  }
}
