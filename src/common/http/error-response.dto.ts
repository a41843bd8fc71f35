import { HttpStatus, type Type } from '@nestjs/common';
import { ApiProperty, ApiResponse, type HeadersObject } from '@nestjs/swagger';
import { errorBody, reasonPhrase, type ErrorBody } from './error-body.js';

/** What a client reads first in each error body, when a route does not say more. */
const DEFAULT_MESSAGES: Partial<Record<number, string | string[]>> = {
  [HttpStatus.BAD_REQUEST]: ['username must be longer than or equal to 3 characters'],
  [HttpStatus.UNAUTHORIZED]: 'An access token is required',
  [HttpStatus.FORBIDDEN]: 'Cross-site request refused',
  [HttpStatus.NOT_FOUND]: 'Not found',
  [HttpStatus.CONFLICT]: 'Username is already taken',
  [HttpStatus.TOO_MANY_REQUESTS]: 'Too many failed login attempts; try again in 900 s',
};

const dtos = new Map<number, Type<ErrorBody>>();

/**
 * The `{statusCode, error, message}` body of one status, as its own schema (`UnauthorizedErrorDto`,
 * `ConflictErrorDto`…): one shared error schema made every example read `400 Bad Request`.
 */
export function errorResponseDto(status: number): Type<ErrorBody> {
  let dto = dtos.get(status);
  if (!dto) {
    const error = reasonPhrase(status);
    class ErrorDto implements ErrorBody {
      @ApiProperty({ type: 'integer', enum: [status], example: status })
      statusCode: number;

      @ApiProperty({ enum: [error], example: error })
      error: string;

      @ApiProperty({
        oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
        description: status === 400 ? 'One message per invalid field' : undefined,
        example: DEFAULT_MESSAGES[status] ?? error,
      })
      message: string | string[];
    }
    // The schema's name in the document is the class name.
    Object.defineProperty(ErrorDto, 'name', { value: `${error.replace(/\W/g, '')}ErrorDto` });
    dto = ErrorDto;
    dtos.set(status, dto);
  }
  return dto;
}

export interface ApiErrorOptions {
  /** The message this route answers with; the example then shows it. */
  message?: string | string[];
  headers?: HeadersObject;
}

export const RETRY_AFTER_HEADER: HeadersObject = {
  'Retry-After': { description: 'Seconds to wait before trying again', schema: { type: 'integer' } },
};

/**
 * Documents an error response of a route with the schema of its status and an example of the
 * exact body: `@ApiErrorResponse(409, 'Username taken', { message: 'Username is already taken' })`.
 */
export function ApiErrorResponse(status: HttpStatus, description: string, options: ApiErrorOptions = {}) {
  return ApiResponse({
    status,
    description,
    type: errorResponseDto(status),
    ...(options.message === undefined ? {} : { example: errorBody(status, options.message) }),
    ...(options.headers ? { headers: options.headers } : {}),
  });
}
