import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOptionalPeer } from '../../src/optional-peer.js';

describe('loadOptionalPeer', () => {
  it('returns the module when the peer is installed', () => {
    const lru = loadOptionalPeer<typeof import('lru-cache')>('lru-cache', 'nack-proxy/x');
    expect(typeof lru.LRUCache).toBe('function');
  });

  it('names the subpath, the peer and the install command when the peer is absent', () => {
    let thrown: unknown;
    try {
      loadOptionalPeer('nack-proxy-absent-peer', 'nack-proxy/example');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(Error);
    // Node's code for a package an ES module cannot find; the require() failure is the cause.
    expect((thrown as { code?: string }).code).toBe('ERR_MODULE_NOT_FOUND');
    expect((thrown as Error).message).toBe(
      "nack-proxy/example needs the optional peer dependency 'nack-proxy-absent-peer', " +
        'which is not installed: run `npm install nack-proxy-absent-peer`',
    );
    expect(((thrown as Error).cause as { code?: string }).code).toBe('MODULE_NOT_FOUND');
  });

  it('passes a failure inside the peer through unchanged', () => {
    // The peer is there but one of its own dependencies is not: not the user's missing peer.
    const dir = mkdtempSync(join(tmpdir(), 'nack-proxy-peer-'));
    try {
      const peer = join(dir, 'broken-peer.cjs');
      writeFileSync(peer, "require('nack-proxy-absent-dependency');\n");
      let thrown: unknown;
      try {
        loadOptionalPeer(peer, 'nack-proxy/example');
      } catch (err) {
        thrown = err;
      }
      expect((thrown as { code?: string }).code).toBe('MODULE_NOT_FOUND');
      expect((thrown as Error).message).toMatch(
        /^Cannot find module 'nack-proxy-absent-dependency'/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
