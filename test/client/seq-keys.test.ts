import { describe, expect, it } from 'vitest';
import { A, harness } from '../helpers/harness.js';

describe('coalescing keys across the small/large sequence-number boundary', () => {
  it('coalesces equal gaps and keeps different ones apart, small or large', async () => {
    const h = harness({ upstreams: [A], workers: 1 });
    h.transport.intercept(A).delay(5).serve().persist();
    const seqs = [0x3fff_fffen, 0x3fff_ffffn, 0x4000_0000n, 1n << 40n, 0xffff_ffff_ffff_ffffn];
    for (const s of seqs) expect(h.client.enqueue({ hashKey: 7n, startSeq: s })).toBe(true);
    // The same gaps again, as fresh bigints (as decodeNack makes them): all coalesced.
    for (const s of seqs) {
      expect(h.client.enqueue({ hashKey: BigInt('7'), startSeq: BigInt(s.toString()) })).toBe(true);
    }
    await h.client.onIdle();
    const st = h.client.stats();
    expect(st.recovered).toBe(seqs.length);
    expect(st.deduped.coalesced).toBe(seqs.length);
    expect(h.events.recovered.map((e) => e.seq).sort((a, b) => (a < b ? -1 : 1))).toEqual(seqs);
    // Once ended, the same gaps are new work again.
    for (const s of seqs) h.client.enqueue({ hashKey: 7n, startSeq: s });
    await h.client.onIdle();
    expect(h.client.stats().recovered).toBe(2 * seqs.length);
    await h.client.close();
  });
});
