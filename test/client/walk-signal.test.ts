import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WalkSignals } from '../../src/client/walk-signal.js';

describe('WalkSignals', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('holds one shutdown listener however many walks wait, and shutdown ends every open one', () => {
    const shutdown = new AbortController();
    const group = new WalkSignals(shutdown.signal);
    const open = Array.from({ length: 1000 }, () => group.create(60_000));
    const released = group.create(60_000);
    released.release();
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(1);
    expect(open.some((s) => s.signal.aborted)).toBe(false);
    shutdown.abort();
    expect(open.every((s) => s.signal.aborted)).toBe(true);
    expect(released.signal.aborted).toBe(false);
  });

  it('aborts at the deadline (never without one), at once when shutdown already happened, and not after release', () => {
    vi.useFakeTimers();
    const shutdown = new AbortController();
    const group = new WalkSignals(shutdown.signal);
    const timed = group.create(100);
    const untimed = group.create();
    const released = group.create(100);
    released.release();
    vi.advanceTimersByTime(99);
    expect(timed.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(timed.signal.aborted).toBe(true);
    expect(released.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1_000_000);
    expect(untimed.signal.aborted).toBe(false);
    shutdown.abort();
    expect(untimed.signal.aborted).toBe(true);
    expect(group.create(1000).signal.aborted).toBe(true);
  });

  it('end() aborts one signal and leaves the others open', () => {
    const group = new WalkSignals(new AbortController().signal);
    const a = group.create(60_000);
    const b = group.create(60_000);
    a.end();
    expect(a.signal.aborted).toBe(true);
    expect(b.signal.aborted).toBe(false);
    b.release();
  });
});
