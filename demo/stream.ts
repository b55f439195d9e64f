import { buildFrame } from '../src/testing/index.js';

/** One frame of the demo stream. */
export interface StreamFrame {
  hashKey: bigint;
  seq: bigint;
  frame: Buffer;
}

/** The frames the source emits, in emission order, and the last sequence number per flow. */
export interface Stream {
  frames: StreamFrame[];
  lastSeq: Map<bigint, bigint>;
}

/** First HashKey; flows are numbered from it so they are easy to spot in logs. */
const FIRST_FLOW = 0xf10_0000n;

/**
 * `total` frames spread round-robin over `flows` flows, sequence numbers from 1.
 * Payloads are 200 bytes, about the size of a small transaction.
 */
export function makeStream(total: number, flows: number): Stream {
  const frames: StreamFrame[] = [];
  const lastSeq = new Map<bigint, bigint>();
  for (let i = 0; i < total; i++) {
    const hashKey = FIRST_FLOW + BigInt(i % flows);
    const seq = BigInt(Math.floor(i / flows) + 1);
    const payload = Buffer.alloc(200, i & 0xff);
    frames.push({ hashKey, seq, frame: buildFrame({ hashKey, seq, payload }) });
    lastSeq.set(hashKey, seq);
  }
  return { frames, lastSeq };
}

/** A Map key for a gap. */
export function gapKey(hashKey: bigint, seq: bigint): string {
  return `${hashKey.toString(16)}/${seq}`;
}
