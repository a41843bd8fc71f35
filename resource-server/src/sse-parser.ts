/** A dispatched Server-Sent Event. `id` is the stream's last event ID at dispatch (it persists). */
export interface ServerSentEvent {
  type: string;
  data: string;
  id: string | undefined;
}

/** A line longer than this means the stream is not the feed; the caller drops the connection. */
const MAX_LINE = 1 << 20;

/**
 * The event-stream parser of the HTML standard (§9.2.6), fed decoded text chunk by chunk: lines
 * end in CRLF, LF or CR (a CRLF may be split across chunks), `:` starts a comment, a blank line
 * dispatches, and an event without data is not dispatched. `retry` is ignored: the kit has its
 * own backoff.
 */
export class SseParser {
  private buffer = '';
  private skipLeadingLf = false;
  private first = true;
  private type = '';
  private data: string[] = [];
  private lastEventId: string | undefined;

  constructor(private readonly dispatch: (event: ServerSentEvent) => void) {}

  push(chunk: string): void {
    if (this.first && chunk.length) {
      this.first = false;
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
    }
    if (this.skipLeadingLf && chunk.startsWith('\n')) chunk = chunk.slice(1);
    this.skipLeadingLf = false;
    let text = this.buffer + chunk;
    let start = 0;
    for (;;) {
      const end = nextLineEnd(text, start);
      if (end === -1) break;
      this.line(text.slice(start, end));
      if (text[end] === '\r') {
        if (end + 1 === text.length) {
          // A CR at the end of the chunk: its LF, if any, comes first in the next one.
          this.skipLeadingLf = true;
          start = end + 1;
          break;
        }
        start = text[end + 1] === '\n' ? end + 2 : end + 1;
      } else {
        start = end + 1;
      }
    }
    text = text.slice(start);
    if (text.length > MAX_LINE) throw new Error('event stream: line too long');
    this.buffer = text;
  }

  private line(line: string): void {
    if (line === '') {
      this.flush();
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.type = value;
        break;
      case 'data':
        this.data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) this.lastEventId = value;
        break;
      default:
        break;
    }
  }

  private flush(): void {
    const data = this.data;
    const type = this.type;
    this.data = [];
    this.type = '';
    if (!data.length) return;
    this.dispatch({ type: type || 'message', data: data.join('\n'), id: this.lastEventId });
  }
}

function nextLineEnd(text: string, from: number): number {
  const lf = text.indexOf('\n', from);
  const cr = text.indexOf('\r', from);
  if (lf === -1) return cr;
  if (cr === -1) return lf;
  return Math.min(lf, cr);
}
