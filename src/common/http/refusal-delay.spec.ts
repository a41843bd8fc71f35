import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { RefusalDelay } from './refusal-delay.js';

/** Enough of a ServerResponse: its 'close' event and whether it or its socket is gone. */
const response = ({ destroyed = false, socketDestroyed = false } = {}) =>
  Object.assign(new EventEmitter(), { destroyed, socket: { destroyed: socketDestroyed } }) as unknown as ServerResponse;

describe('RefusalDelay', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('counts 429, and 503 with Retry-After, as refusals; nothing else', () => {
    expect(RefusalDelay.isRefusal(429, undefined)).toBe(true);
    expect(RefusalDelay.isRefusal(429, '30')).toBe(true);
    expect(RefusalDelay.isRefusal(503, '1')).toBe(true);
    // /health's 503 says nothing about when to come back.
    expect(RefusalDelay.isRefusal(503, undefined)).toBe(false);
    for (const status of [200, 201, 204, 400, 401, 403, 404, 408, 409, 413, 500]) {
      expect(RefusalDelay.isRefusal(status, '1')).toBe(false);
    }
  });

  it('sends a held refusal after the delay, not before', () => {
    const delay = new RefusalDelay(2000);
    const send = jest.fn();
    expect(delay.hold(response(), '60', send)).toBe('held');
    jest.advanceTimersByTime(1999);
    expect(send).not.toHaveBeenCalled();
    expect(delay.heldCount).toBe(1);
    jest.advanceTimersByTime(1);
    expect(send).toHaveBeenCalledTimes(1);
    expect(delay.heldCount).toBe(0);
  });

  it('holds no longer than the Retry-After the refusal carries', () => {
    const delay = new RefusalDelay(5000);
    const send = jest.fn();
    delay.hold(response(), '2', send);
    jest.advanceTimersByTime(2000);
    expect(send).toHaveBeenCalledTimes(1);
    // Without a usable Retry-After, the configured delay.
    const other = jest.fn();
    delay.hold(response(), undefined, other);
    jest.advanceTimersByTime(4999);
    expect(other).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(other).toHaveBeenCalledTimes(1);
  });

  it('releases a refusal at once when its connection closes, and only once', () => {
    const delay = new RefusalDelay(1000);
    const res = response();
    const send = jest.fn();
    delay.hold(res, '1', send);
    res.emit('close');
    expect(send).toHaveBeenCalledTimes(1);
    expect(delay.heldCount).toBe(0);
    jest.advanceTimersByTime(5000);
    res.emit('close');
    delay.releaseAll();
    expect(send).toHaveBeenCalledTimes(1);
  });

  it('does not hold a refusal whose client is already gone', () => {
    const delay = new RefusalDelay(1000);
    expect(delay.hold(response({ destroyed: true }), '1', jest.fn())).toBe('skipped');
    expect(delay.hold(response({ socketDestroyed: true }), '1', jest.fn())).toBe('skipped');
    expect(delay.heldCount).toBe(0);
  });

  it('holds at most maxHeld at once; beyond, says the queue is full and does not call send', () => {
    const delay = new RefusalDelay(1000, 2);
    const sends = [jest.fn(), jest.fn(), jest.fn()];
    expect(sends.map((send) => delay.hold(response(), '1', send))).toEqual(['held', 'held', 'full']);
    expect(sends[2]).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1000);
    expect(delay.heldCount).toBe(0);
    // Room again once the held ones went out.
    expect(delay.hold(response(), '1', jest.fn())).toBe('held');
  });

  it('sends everything it holds at once on releaseAll (shutdown), each once', () => {
    const delay = new RefusalDelay(10_000);
    const sends = [jest.fn(), jest.fn(), jest.fn()];
    for (const send of sends) delay.hold(response(), '10', send);
    delay.releaseAll();
    expect(delay.heldCount).toBe(0);
    jest.advanceTimersByTime(10_000);
    for (const send of sends) expect(send).toHaveBeenCalledTimes(1);
  });

  it('holds nothing with no delay (THROTTLED_REPLY_DELAY=0)', () => {
    const delay = new RefusalDelay(0);
    expect(delay.hold(response(), '1', jest.fn())).toBe('skipped');
    expect(delay.heldCount).toBe(0);
  });
});
