import { HttpException, HttpStatus } from '@nestjs/common';

/** The RFC 6749 §5.2 codes this server answers with; the others are added when a feature throws them. */
export type OAuthErrorCode =
  'invalid_request' | 'invalid_grant' | 'unsupported_grant_type' | 'invalid_scope' | 'invalid_client';

/** An OAuth 2.0 error response (RFC 6749 §5.2): `{error, error_description}`, 400 unless said otherwise. */
export class OAuthException extends HttpException {
  constructor(
    readonly code: OAuthErrorCode,
    readonly description: string,
    status: number = HttpStatus.BAD_REQUEST,
  ) {
    super({ error: code, error_description: description }, status);
  }
}
