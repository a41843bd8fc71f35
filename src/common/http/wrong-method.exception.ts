import { MethodNotAllowedException } from '@nestjs/common';

/** 405 for a known path asked with a method it does not have; `allow` becomes the `Allow` header. */
export class WrongMethodException extends MethodNotAllowedException {
  constructor(
    method: string,
    url: string,
    readonly allow: readonly string[],
  ) {
    super(`Cannot ${method} ${url.split('?')[0]}; this path allows ${allow.join(', ')}`);
  }
}
