/**
 * A start-up failure the person starting the service can fix (a busy port, an unwritable
 * database). main.ts prints its message as one line and exits 1, without a stack trace.
 */
export class StartupError extends Error {
  override name = 'StartupError';
}

const ERRNO_TEXT: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted (immutable file or folder?)',
  EROFS: 'read-only file system',
  ENOTDIR: 'a part of the path is a file, not a folder',
  ENOSPC: 'no space left on the device',
  EISDIR: 'it is a folder',
};

/** `EACCES, permission denied`: the code for searching, the words for reading. */
export function describeErrno(error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException;
  if (code && ERRNO_TEXT[code]) return `${code}, ${ERRNO_TEXT[code]}`;
  return code ? `${code}, ${message}` : String(message ?? error);
}
