/**
 * Big-endian field access and argument checks shared by the codecs. Internal: not exported
 * from `nack-proxy/wire`.
 *
 * Fields are read and written byte by byte rather than through a DataView made per call:
 * on Node 20 that saves nothing for the caller's buffers, and over a fresh small Buffer
 * (on the V8 heap, like a new cache key) it first moves the Buffer's storage off-heap, which
 * measured about three times the cost of the whole NACK encode. A DataView kept between
 * calls would be hidden shared state.
 * @module
 */
import { MAGIC, PROTO_VER, UINT64_MAX } from './constants.js';
import { WireError } from './errors.js';

/** Largest uint64 that converts to a Number exactly (2^53 - 1). */
const SAFE = 0x1f_ffff_ffff_ffffn;
const TWO_32 = 0x1_0000_0000;

/** Unsigned 16-bit big-endian integer at `at`. The caller has checked the length. */
export function readU16(buf: Uint8Array, at: number): number {
  return (buf[at]! << 8) | buf[at + 1]!;
}

/** Unsigned 32-bit big-endian integer at `at`. The caller has checked the length. */
export function readU32(buf: Uint8Array, at: number): number {
  return ((buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!) >>> 0;
}

/** Unsigned 64-bit big-endian integer at `at`, as a bigint. */
export function readU64(buf: Uint8Array, at: number): bigint {
  const hi = readU32(buf, at);
  const lo = readU32(buf, at + 4);
  // Sequence numbers are small: one exact conversion instead of joining two bigint halves.
  return hi < 0x20_0000 ? BigInt(hi * TWO_32 + lo) : (BigInt(hi) << 32n) | BigInt(lo);
}

/** Writes the low 16 bits of `n` big-endian at `at`. */
export function writeU16(buf: Uint8Array, at: number, n: number): void {
  buf[at] = n >>> 8;
  buf[at + 1] = n;
}

/** Writes the low 32 bits of `n` big-endian at `at`. */
export function writeU32(buf: Uint8Array, at: number, n: number): void {
  buf[at] = n >>> 24;
  buf[at + 1] = n >>> 16;
  buf[at + 2] = n >>> 8;
  buf[at + 3] = n;
}

/** Writes a uint64 bigint (already range-checked) big-endian at `at`. */
export function writeU64(buf: Uint8Array, at: number, v: bigint): void {
  if (v <= SAFE) {
    // Sequence numbers are small: one exact Number conversion instead of two bigint steps.
    const n = Number(v);
    const lo = n >>> 0;
    writeU32(buf, at, (n - lo) / TWO_32);
    writeU32(buf, at + 4, lo);
  } else {
    writeU32(buf, at, Number(v >> 32n));
    writeU32(buf, at + 4, Number(v & 0xffff_ffffn));
  }
}

/**
 * Returns `buf` when it has `size` bytes free at `offset`, or a fresh zeroed Buffer.
 * Small Buffers from `Buffer.alloc` live on the V8 heap and keep no shared pool alive,
 * which matters for cache keys kept as long as their frame.
 */
export function target(
  size: number,
  buf: Uint8Array | undefined,
  offset: number,
  what: string,
): Uint8Array {
  if (buf === undefined) {
    if (offset !== 0) {
      throw new WireError('buffer', `${what}: offset ${describe(offset)} given without a buffer`);
    }
    return Buffer.alloc(size);
  }
  if (!(buf instanceof Uint8Array)) {
    throw new WireError('buffer', `${what}: buffer must be bytes, got ${describe(buf)}`);
  }
  if (!Number.isInteger(offset) || offset < 0 || offset + size > buf.length) {
    throw new WireError(
      'buffer',
      `${what} needs ${size} bytes at offset ${describe(offset)}, buffer has ${buf.length}`,
    );
  }
  return buf;
}

/** Throws a `range` WireError unless `value` is a non-null object (a value to encode). */
export function checkObject(value: unknown, what: string): asserts value is object {
  if (typeof value !== 'object' || value === null) {
    throw new WireError('range', `${what} must be an object, got ${describe(value)}`);
  }
}

/** Throws unless `value` is a bigint in the uint64 range. */
export function checkU64(value: unknown, field: string): bigint {
  if (typeof value !== 'bigint' || value < 0n || value > UINT64_MAX) {
    throw new WireError('range', `${field} must be a uint64 bigint, got ${describe(value)}`);
  }
  return value;
}

/** Writes magic, protocol version, type and flags: the 8-byte prefix of NACKs and responses. */
export function writePrefix(buf: Uint8Array, at: number, type: number, flags: number): void {
  writeU32(buf, at, MAGIC);
  writeU16(buf, at + 4, PROTO_VER);
  buf[at + 6] = type;
  buf[at + 7] = flags;
}

/**
 * Checks that `buf` is bytes of exactly `size` with the magic and protocol version of a
 * NACK or response (the shared prefix of both decoders).
 */
export function checkMessage(buf: unknown, size: number, what: string): asserts buf is Uint8Array {
  if (!(buf instanceof Uint8Array)) {
    throw new WireError('length', `${what}: expected bytes, got ${describe(buf)}`);
  }
  if (buf.length !== size) {
    throw new WireError(
      'length',
      buf.length < size
        ? `${what}: ${buf.length} bytes, need at least ${size}`
        : `${what}: ${buf.length} bytes, must be exactly ${size}`,
    );
  }
  const magic = readU32(buf, 0);
  if (magic !== MAGIC) throw badMagic(what, magic);
  const ver = readU16(buf, 4);
  if (ver !== PROTO_VER) {
    throw new WireError(
      'version',
      `${what}: protocol version 0x${hex(ver, 4)} (want 0x${hex(PROTO_VER, 4)})`,
    );
  }
}

/** The `magic` WireError for a datagram that does not start with `MAGIC`. */
export function badMagic(what: string, magic: number): WireError {
  return new WireError('magic', `${what}: bad magic 0x${hex(magic, 8)} (want 0x${hex(MAGIC, 8)})`);
}

/** Lower-case hex of `n`, zero-padded to `width` digits. */
export function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** Short description of an arbitrary value for error messages. */
export function describe(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? value.slice(0, 60) + '…' : value);
  if (value instanceof Uint8Array) return `${value.constructor.name}(${value.length})`;
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}
