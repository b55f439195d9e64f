import { describe, expect, it } from 'vitest';
import { Resolver } from '../../src/transport/resolver.js';

describe('Resolver', () => {
  it('shares one first lookup between concurrent callers', async () => {
    let lookups = 0;
    const r = new Resolver(async () => {
      lookups++;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return { address: '2001:db8:0::1', family: 6 };
    }, 30_000);
    const [a, b] = await Promise.all([r.resolve('up.test:9300', 0), r.resolve('up.test:9300', 0)]);
    expect(lookups).toBe(1);
    expect(a).toEqual({ address: '2001:db8::1', family: 6, port: 9300, key: '2001:db8::1|9300' });
    expect(b).toBe(a);
  });

  it('serves the last address after the TTL while a refresh runs, and keeps it if that fails', async () => {
    const answers: (() => Promise<{ address: string; family: number }>)[] = [
      () => Promise.resolve({ address: '192.0.2.1', family: 4 }),
      () => new Promise(() => {}), // a refresh that never answers
    ];
    let calls = 0;
    const r = new Resolver(() => (answers[calls++] ?? answers[1]!)(), 10);
    await r.resolve('up.test:9300', 0);
    // Past the TTL: the cached address comes back at once; one refresh starts.
    expect(r.cached('up.test:9300', 50)?.address).toBe('192.0.2.1');
    expect(r.cached('up.test:9300', 60)?.address).toBe('192.0.2.1');
    expect(calls).toBe(2);
    expect((await r.resolve('up.test:9300', 70)).address).toBe('192.0.2.1');
  });

  it('does not cache a first lookup that failed', async () => {
    let calls = 0;
    const r = new Resolver(() => {
      calls++;
      return calls === 1
        ? Promise.reject(new Error('ENOTFOUND'))
        : Promise.resolve({ address: '::1', family: 6 });
    }, 30_000);
    await expect(r.resolve('up.test:1', 0)).rejects.toThrow('ENOTFOUND');
    expect((await r.resolve('up.test:1', 1)).address).toBe('::1');
  });
});
