import { HttpStatus } from '@nestjs/common';

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string | string[];
}

/** The reason phrase for a status, e.g. 413 → "Payload Too Large". */
export function reasonPhrase(status: number): string {
  const name = HttpStatus[status];
  if (!name) return status >= 500 ? 'Internal Server Error' : 'Error';
  return name
    .toLowerCase()
    .split('_')
    .map((word) => word[0].toUpperCase() + word.slice(1))
    .join(' ');
}

export function errorBody(status: number, message: string | string[], error = reasonPhrase(status)): ErrorBody {
  return { statusCode: status, error, message };
}
