import { HttpStatus } from '@nestjs/common';

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string | string[];
}

/** Words of HttpStatus names that the reason phrases spell in capitals (414 URI Too Long). */
const ACRONYMS = new Set(['uri', 'http']);

/** The reason phrase for a status, e.g. 413 → "Payload Too Large". */
export function reasonPhrase(status: number): string {
  const name = HttpStatus[status];
  if (!name) return status >= 500 ? 'Internal Server Error' : 'Error';
  return name
    .toLowerCase()
    .split('_')
    .map((word) => (ACRONYMS.has(word) ? word.toUpperCase() : word[0].toUpperCase() + word.slice(1)))
    .join(' ');
}

export function errorBody(status: number, message: string | string[], error = reasonPhrase(status)): ErrorBody {
  return { statusCode: status, error, message };
}

/** An error body lists at most this many messages. */
export const MAX_ERROR_MESSAGES = 10;
/** Longest message kept whole; longer ones (a 404 for a 10 kB URL) are cut. */
const MAX_MESSAGE_CHARS = 300;
/**
 * Bytes of JSON the messages of one body may take: with the rest of the body, under 4 kB. A
 * message of MAX_MESSAGE_CHARS is at most 1,800 bytes (6 per escaped control character), so
 * the first always fits.
 */
const MESSAGES_BUDGET_BYTES = 3_500;

function truncated(message: string): string {
  return message.length > MAX_MESSAGE_CHARS ? `${message.slice(0, MAX_MESSAGE_CHARS - 1)}…` : message;
}

/**
 * Keeps an error body small whatever the request was: at most MAX_ERROR_MESSAGES messages, each
 * cut to MAX_MESSAGE_CHARS, and no more than fit in MESSAGES_BUDGET_BYTES.
 */
export function boundedMessage(message: string | string[]): string | string[] {
  if (!Array.isArray(message)) return truncated(message);
  const kept: string[] = [];
  let bytes = 0;
  for (const one of message.slice(0, MAX_ERROR_MESSAGES)) {
    const text = truncated(one);
    bytes += Buffer.byteLength(JSON.stringify(text)) + 1;
    if (kept.length > 0 && bytes > MESSAGES_BUDGET_BYTES) break;
    kept.push(text);
  }
  return kept;
}
