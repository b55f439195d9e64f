import { expect, it } from 'vitest';
import { growingLru } from '../../src/shared/growing-lru.js';

it('keeps at most limit entries, forgetting the least recently used', () => {
  const lru = growingLru<number, string>(3);
  for (let i = 0; i < 5; i++) lru.set(i, `v${i}`);
  expect(lru.size).toBe(3);
  expect([...lru.keys()].sort()).toEqual([2, 3, 4]);
});

it('forgets entries once their ttl has passed, on performance.now()', async () => {
  const lru = growingLru<string, number>(10, { ttl: 20 });
  lru.set('a', 1);
  expect(lru.get('a')).toBe(1);
  await new Promise((resolve) => setTimeout(resolve, 40));
  expect(lru.has('a')).toBe(false);
});
