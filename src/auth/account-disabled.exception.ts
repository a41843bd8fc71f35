import { ForbiddenException } from '@nestjs/common';

/**
 * The right password for a disabled account. Only thrown after the password matched: with a
 * wrong one the answer is the usual 401, so the state shows only to someone who knows it.
 */
export class AccountDisabledException extends ForbiddenException {
  constructor() {
    super('This account is disabled');
  }
}
