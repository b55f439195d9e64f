import { CACHE_KEY_SIZE } from '../wire/constants.js';

/** Map key for a 16-byte cache key (hex), validating its size. */
export function keyText(key: Uint8Array): string {
  if (!(key instanceof Uint8Array) || key.length !== CACHE_KEY_SIZE) {
    throw new TypeError(`nack-proxy: cache key must be ${CACHE_KEY_SIZE} bytes`);
  }
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('hex');
}

/** Throws unless `ttlMs` is a positive finite number. */
export function checkTtl(ttlMs: number): void {
  if (typeof ttlMs !== 'number' || !(ttlMs > 0) || !Number.isFinite(ttlMs)) {
    throw new RangeError(`nack-proxy: ttlMs must be a positive number, got ${String(ttlMs)}`);
  }
}
