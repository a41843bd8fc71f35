import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { REPEAT_FLUSH_MS, RepeatBuffer } from './repeat-buffer.js';

describe('RepeatBuffer', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  function buffer() {
    const flushed: Array<Record<string, number>> = [];
    const repeats = new RepeatBuffer(async (counts) => {
      flushed.push(Object.fromEntries(counts));
    });
    return { repeats, flushed };
  }

  it('remembers which row a request key counts on', () => {
    const { repeats } = buffer();
    expect(repeats.rowOf('req')).toBeUndefined();
    repeats.remember('req', 'row');
    expect(repeats.rowOf('req')).toBe('row');
  });

  it('adds up repeats per row and hands them over once, about a second later', async () => {
    jest.useFakeTimers();
    const { repeats, flushed } = buffer();
    for (let i = 0; i < 500; i++) repeats.count('a');
    repeats.count('b');
    expect(flushed).toEqual([]);
    await jest.advanceTimersByTimeAsync(REPEAT_FLUSH_MS);
    expect(flushed).toEqual([{ a: 500, b: 1 }]);
    await jest.advanceTimersByTimeAsync(REPEAT_FLUSH_MS * 5);
    expect(flushed).toHaveLength(1);
  });

  it('drains on demand, and an empty drain writes nothing', async () => {
    const { repeats, flushed } = buffer();
    await repeats.drain();
    expect(flushed).toEqual([]);
    repeats.count('a');
    repeats.count('a');
    await repeats.drain();
    expect(flushed).toEqual([{ a: 2 }]);
  });

  it('forgets every row key once it knows 10,000, instead of growing with a username spray', () => {
    const { repeats } = buffer();
    for (let i = 0; i < 10_000; i++) repeats.remember(`req${i}`, 'row');
    expect(repeats.rowOf('req0')).toBe('row');
    repeats.remember('one more', 'row');
    expect(repeats.rowOf('req0')).toBeUndefined();
    expect(repeats.rowOf('one more')).toBe('row');
  });
});
