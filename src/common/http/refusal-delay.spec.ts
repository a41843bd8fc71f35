import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { RefusalDelay } from './refusal-delay.js';

const response = () => new EventEmitter() as unknown as ServerResponse;

describe('RefusalDelay', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('counts 429, and 503 with Retry-After, as refusals; nothing else', () => {
    expect(RefusalDelay.isRefusal(429, undefined)).toBe(true);
    expect(RefusalDelay.isRefusal(429, '30')).toBe(true);
    expect(RefusalDelay.isRefusal(503, '1')).toBe(true);
    // /health's 503 and Nest's 503 while shutting down say nothing about when to come back.
    expect(RefusalDelay.isRefusal(503, undefined)).toBe(false);
    for (const status of [200, 201, 204, 400, 401, 403, 404, 408, 409, 413, 500]) {
      expect(RefusalDelay.isRefusal(status, '1')).toBe(false);
    }
  });

  it('sends a held refusal after the delay, not before', () => {
    const delay = new RefusalDelay(1000);
    const send = jest.fn();
    expect(delay.hold(response(), send)).toBe(true);
    jest.advanceTimersByTime(999);
    expect(send).not.toHaveBeenCalled();
    expect(delay.heldCount).toBe(1);
    jest.advanceTimersByTime(1);
    expect(send).toHaveBeenCalledTimes(1);
    expect(delay.heldCount).toBe(0);
  });

  it('releases a refusal at once when its connection closes, and only once', () => {
    const delay = new RefusalDelay(1000);
    const res = response();
    const send = jest.fn();
    delay.hold(res, send);
    res.emit('close');
    expect(send).toHaveBeenCalledTimes(1);
    expect(delay.heldCount).toBe(0);
    jest.advanceTimersByTime(5000);
    res.emit('close');
    expect(send).toHaveBeenCalledTimes(1);
    expect(delay.heldCount).toBe(0);
  });

  it('holds at most maxHeld at once; beyond, the caller sends at once', () => {
    const delay = new RefusalDelay(1000, 2);
    const sends = [jest.fn(), jest.fn(), jest.fn()];
    expect(sends.map((send) => delay.hold(response(), send))).toEqual([true, true, false]);
    expect(sends[2]).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1000);
    expect(delay.heldCount).toBe(0);
    // Room again once the held ones went out.
    expect(delay.hold(response(), jest.fn())).toBe(true);
  });

  it('holds nothing with no delay (THROTTLED_REPLY_DELAY=0)', () => {
    const delay = new RefusalDelay(0);
    expect(delay.hold(response(), jest.fn())).toBe(false);
    expect(delay.heldCount).toBe(0);
  });
});
