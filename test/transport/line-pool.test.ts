/**
 * The transport-wide pool of lines no exchange uses: at most `maxIdle` across every target,
 * the least recently used closed first, a timed-out line past the bound closed rather than
 * rested, and no line handed out before its late-reply guard ends.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LinePool } from '../../src/transport/line-pool.js';
import type { Line } from '../../src/transport/lines.js';

const GUARD = 2000;

/** A stand-in line: the pool only reads its target, guard and closed flag. */
function line(target: string, name = target): Line {
  return { target: { key: target }, coolUntil: 0, closed: false, name } as unknown as Line;
}

/** Gives `l` back at `now`, cooling for GUARD when it timed out. */
function give(pool: LinePool, l: Line, now: number, timedOut = false): Line | undefined {
  if (timedOut) l.coolUntil = now + GUARD;
  const surplus = pool.give(l, now);
  if (surplus !== undefined) surplus.closed = true;
  return surplus;
}

describe('LinePool', () => {
  it('counts resting lines across targets and closes the least recently used past maxIdle', () => {
    const pool = new LinePool(3);
    const [a1, b1, c1, d1] = ['a', 'b', 'c', 'd'].map((t) => line(t));
    expect([give(pool, a1!, 0), give(pool, b1!, 1), give(pool, c1!, 2)]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    expect(give(pool, d1!, 3)).toBe(a1);
    expect(pool.size).toBe(3);
    expect(pool.take('a', 4)).toBeUndefined();
    // Using b makes c the least recently used.
    expect(pool.take('b', 4)).toBe(b1);
    expect(give(pool, b1!, 5)).toBeUndefined();
    expect(give(pool, line('e'), 6)).toBe(c1);
    expect(pool.take('c', 7)).toBeUndefined();
    expect(pool.take('d', 7)).toBe(d1);
  });

  it('closes a timed-out line past the bound instead of resting it; a ready one evicts', () => {
    const pool = new LinePool(2);
    const cool = line('a', 'cool');
    const ready = line('b', 'ready');
    give(pool, cool, 0, true);
    give(pool, ready, 1);
    const late = line('c', 'late');
    expect(give(pool, late, 2, true)).toBe(late);
    expect(pool.size).toBe(2);
    // A ready line is kept: the least recently used (the cooling one) goes.
    const fresh = line('c', 'fresh');
    expect(give(pool, fresh, 3)).toBe(cool);
    expect(pool.take('a', GUARD + 10)).toBeUndefined();
    expect(pool.take('c', 4)).toBe(fresh);
  });

  it('hands out no line before its guard ends, and the most recently used ready line first', () => {
    const pool = new LinePool(8);
    const cool = line('a', 'cool');
    const r1 = line('a', 'r1');
    const r2 = line('a', 'r2');
    give(pool, cool, 0, true);
    expect(pool.take('a', GUARD - 1)).toBeUndefined();
    give(pool, r1, 1);
    give(pool, r2, 2);
    expect(pool.take('a', 3)).toBe(r2);
    expect(pool.take('a', 3)).toBe(r1);
    expect(pool.take('a', GUARD - 1)).toBeUndefined();
    expect(pool.take('b', GUARD)).toBeUndefined();
    expect(pool.take('a', GUARD)).toBe(cool);
    expect(pool.size).toBe(0);
  });

  it('keeps nothing with maxIdle 0, and forgets a closed line', () => {
    const pool = new LinePool(0);
    const l = line('a');
    expect(give(pool, l, 0)).toBe(l);
    const p = new LinePool(4);
    const closed = line('a');
    closed.closed = true;
    expect(p.give(closed, 0)).toBeUndefined();
    expect(p.size).toBe(0);
  });

  it('matches a plain model under any sequence of takes and gives', () => {
    const targets = ['a', 'b', 'c'];
    const op = fc.record({
      give: fc.boolean(),
      target: fc.constantFrom(...targets),
      timedOut: fc.boolean(),
      dt: fc.integer({ min: 0, max: 700 }),
    });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5 }), fc.array(op, { maxLength: 200 }), (max, ops) => {
        const pool = new LinePool(max);
        /** The model: resting lines, least recently given back first. */
        const resting: Line[] = [];
        const inUse: Line[] = [];
        let now = 0;
        for (const o of ops) {
          now += o.dt;
          if (o.give) {
            const l = inUse.find((x) => x.target.key === o.target) ?? line(o.target);
            inUse.splice(inUse.indexOf(l), 1);
            const cooling = o.timedOut;
            const expected =
              resting.length < max ? undefined : cooling || max === 0 ? l : resting[0];
            expect(give(pool, l, now, o.timedOut)).toBe(expected);
            if (expected !== undefined && expected !== l) resting.shift();
            if (expected !== l) resting.push(l);
          } else {
            const got = pool.take(o.target, now);
            const usable = resting.filter((x) => x.target.key === o.target && x.coolUntil <= now);
            if (usable.length === 0) expect(got).toBeUndefined();
            else expect(usable).toContain(got);
            if (got !== undefined) {
              resting.splice(resting.indexOf(got), 1);
              inUse.push(got);
            }
          }
          expect(pool.size).toBe(resting.length);
          expect(pool.size).toBeLessThanOrEqual(max);
        }
      }),
    );
  });
});
