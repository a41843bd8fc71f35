import { describe, expect, it } from '@jest/globals';
import { SseParser, type ServerSentEvent } from '../src/sse-parser.js';

function parse(chunks: string[]): ServerSentEvent[] {
  const events: ServerSentEvent[] = [];
  const parser = new SseParser((event) => events.push(event));
  for (const chunk of chunks) parser.push(chunk);
  return events;
}

describe('SseParser', () => {
  const stream = 'id: 1\nevent: revoked\ndata: {"a":1}\n\n: keep-alive\nid: 2\nevent: revoked\ndata: {"a":2}\n\n';

  it('dispatches events with their id and type, skipping comments', () => {
    expect(parse([stream])).toEqual([
      { type: 'revoked', data: '{"a":1}', id: '1' },
      { type: 'revoked', data: '{"a":2}', id: '2' },
    ]);
  });

  it('gives the same events however the stream is cut into chunks, with LF, CRLF or CR line ends', () => {
    const expected = parse([stream]);
    for (const ending of ['\n', '\r\n', '\r']) {
      const text = stream.replace(/\n/g, ending);
      for (let size = 1; size <= 7; size++) {
        const chunks = text.match(new RegExp(`[\\s\\S]{1,${size}}`, 'g'))!;
        expect(parse(chunks)).toEqual(expected);
      }
    }
  });

  it('joins data lines, keeps the last id for events without one, and skips events without data', () => {
    expect(parse(['\uFEFFid: 7\ndata: a\ndata:b\n\nevent: revoked\n\nretry: 10\ndata: c\n\n'])).toEqual([
      { type: 'message', data: 'a\nb', id: '7' },
      { type: 'message', data: 'c', id: '7' },
    ]);
  });

  it('holds an unfinished event until its blank line arrives', () => {
    const events: ServerSentEvent[] = [];
    const parser = new SseParser((event) => events.push(event));
    parser.push('id: 3\nevent: revoked\ndata: {}\n');
    expect(events).toEqual([]);
    parser.push('\n');
    expect(events).toEqual([{ type: 'revoked', data: '{}', id: '3' }]);
  });
});
