import { describe, expect, it } from 'vitest';
import { WireError, decodeResponse, encodeResponse } from '../../src/index.js';
import { RESPONSE_SIZE } from '../../src/wire/index.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('response codec', () => {
  it('encodes MISS with flags 0 and SeqNum 0', () => {
    expect(hex(encodeResponse({ kind: 'miss' }))).toBe(
      'e3e1f3e802bf11' + '00' + '0000000000000000',
    );
  });

  it('encodes ACK flags: 0x01 multicast sent, 0x02 unicast sent', () => {
    const both = encodeResponse({
      kind: 'ack',
      seq: 0x2an,
      multicastSent: true,
      unicastSent: true,
    });
    expect(hex(both)).toBe('e3e1f3e802bf12' + '03' + '000000000000002a');
    const multicastOnly = encodeResponse({
      kind: 'ack',
      seq: 1n,
      multicastSent: true,
      unicastSent: false,
    });
    expect(multicastOnly[7]).toBe(0x01);
  });

  it('encodes THROTTLED with the bucket in the low nibble and the StartSeq echo', () => {
    const bytes = encodeResponse({ kind: 'throttled', seq: 0x0102n, bucket: 3 });
    expect(bytes.length).toBe(RESPONSE_SIZE);
    expect(hex(bytes)).toBe('e3e1f3e802bf13' + '03' + '0000000000000102');
  });

  it('decodes the backoff hint as 125 ms << bucket', () => {
    for (const bucket of [0, 1, 4, 15]) {
      const res = decodeResponse(encodeResponse({ kind: 'throttled', seq: 9n, bucket }));
      expect(res).toEqual({ kind: 'throttled', seq: 9n, bucket, backoffMs: 125 * 2 ** bucket });
    }
    const raw = Buffer.from(encodeResponse({ kind: 'throttled', seq: 9n, bucket: 2 }));
    raw[7] = 0xf2; // high nibble is not part of the hint
    expect(decodeResponse(raw)).toMatchObject({ bucket: 2, backoffMs: 500 });
  });

  it('round-trips ACK and MISS', () => {
    expect(decodeResponse(encodeResponse({ kind: 'miss' }))).toEqual({ kind: 'miss' });
    expect(decodeResponse(encodeResponse({ kind: 'ack', seq: 77n, unicastSent: true }))).toEqual({
      kind: 'ack',
      seq: 77n,
      multicastSent: false,
      unicastSent: true,
    });
  });

  it('refuses bad length, magic, version and type', () => {
    const good = (): Buffer => Buffer.from(encodeResponse({ kind: 'miss' }));
    const codes: string[] = [];
    const tries: Buffer[] = [Buffer.alloc(15), Buffer.concat([good(), Buffer.alloc(1)])];
    const m = good();
    m[0] = 0;
    const v = good();
    v[5] = 0;
    const t = good();
    t[6] = 0x10;
    tries.push(m, v, t);
    for (const b of tries) {
      try {
        decodeResponse(b);
      } catch (err) {
        expect(err).toBeInstanceOf(WireError);
        codes.push((err as WireError).code);
      }
    }
    expect(codes).toEqual(['length', 'length', 'magic', 'version', 'type']);
  });

  it('writes into the caller buffer', () => {
    const buf = Buffer.alloc(20);
    expect(encodeResponse({ kind: 'ack', seq: 5n }, buf, 4)).toBe(buf);
    expect(decodeResponse(buf.subarray(4, 20))).toMatchObject({ kind: 'ack', seq: 5n });
  });
});
