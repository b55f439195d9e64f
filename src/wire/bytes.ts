import { MAGIC, PROTO_VER, UINT64_MAX } from './constants.js';
import { WireError } from './errors.js';

/** A big-endian view over exactly the bytes of `buf` (no copy). */
export function viewOf(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Returns `buf` when it has `size` bytes free at `offset`, or a fresh zeroed Buffer. */
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
export function writePrefix(dv: DataView, at: number, type: number, flags: number): void {
  dv.setUint32(at, MAGIC);
  dv.setUint16(at + 4, PROTO_VER);
  dv.setUint8(at + 6, type);
  dv.setUint8(at + 7, flags);
}

/** Checks the magic and protocol version of a NACK or response. */
export function checkPrefix(buf: Uint8Array, dv: DataView, what: string): void {
  const magic = dv.getUint32(0);
  if (magic !== MAGIC) {
    throw new WireError('magic', `${what}: bad magic 0x${hex(magic, 8)} (want 0x${hex(MAGIC, 8)})`);
  }
  const ver = dv.getUint16(4);
  if (ver !== PROTO_VER) {
    throw new WireError(
      'version',
      `${what}: protocol version 0x${hex(ver, 4)} (want 0x${hex(PROTO_VER, 4)})`,
    );
  }
  void buf;
}

/** Throws a `length` WireError unless `buf` is at least `min` bytes. */
export function checkMinLength(buf: Uint8Array, min: number, what: string): void {
  if (buf.length < min) {
    throw new WireError('length', `${what}: ${buf.length} bytes, need at least ${min}`);
  }
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

/** Asserts `buf` is a Uint8Array (Buffer included) for decoders fed by untyped callers. */
export function checkBytes(buf: unknown, what: string): asserts buf is Uint8Array {
  if (!(buf instanceof Uint8Array)) {
    throw new WireError('length', `${what}: expected bytes, got ${describe(buf)}`);
  }
}
