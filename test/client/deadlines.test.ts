import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Deadlines, type Timed } from '../../src/transport/deadlines.js';

const expired: string[] = [];
/** The fake clock (Date is faked with the timers, so both move together). */
const clock = (): number => Date.now();

function entry(name: string, deadlineAt: number): Timed {
  return {
    deadlineAt,
    earlier: undefined,
    later: undefined,
    queued: false,
    expire: () => expired.push(name),
  };
}

function advance(ms: number): void {
  vi.advanceTimersByTime(ms);
}

describe('Deadlines (one timer for many deadlines)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: 0 });
    expired.length = 0;
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('expires entries in deadline order, whatever the order they were added in', () => {
    const q = new Deadlines(clock);
    q.add(entry('b', 20));
    q.add(entry('a', 10));
    q.add(entry('d', 40));
    q.add(entry('c', 30));
    advance(10);
    expect(expired).toEqual(['a']);
    advance(25);
    expect(expired).toEqual(['a', 'b', 'c']);
    advance(5);
    expect(expired).toEqual(['a', 'b', 'c', 'd']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a removed entry never expires, and an empty queue holds no timer', () => {
    const q = new Deadlines(clock);
    const a = entry('a', 10);
    const b = entry('b', 20);
    q.add(a);
    q.add(b);
    expect(vi.getTimerCount()).toBe(1);
    q.remove(a);
    q.remove(a); // idempotent
    advance(15);
    expect(expired).toEqual([]);
    advance(5);
    expect(expired).toEqual(['b']);
    q.add(a);
    q.remove(a);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('entries due together expire in one firing; one may queue another as it expires', () => {
    const q = new Deadlines(clock);
    const late = entry('late', 50);
    q.add({ ...entry('x', 10), expire: () => (expired.push('x'), q.add(late)) });
    q.add(entry('y', 10));
    advance(10);
    expect(expired).toEqual(['x', 'y']);
    advance(40);
    expect(expired).toEqual(['x', 'y', 'late']);
  });
});
