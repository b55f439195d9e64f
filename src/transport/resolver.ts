import { isIP } from 'node:net';
import { canonicalIp, parseUpstream } from './address.js';

/** Resolves a host name to one address. */
export type Lookup = (host: string) => Promise<{
  /** An IPv4 or IPv6 address. */
  address: string;
  /** 4 or 6 (the address itself decides when they disagree). */
  family: number;
}>;

/** Where an upstream's NACKs go, after resolution. */
export interface Target {
  /** Canonical IP address (`2001:db8::1`, never `2001:db8:0::1`). */
  readonly address: string;
  readonly family: 4 | 6;
  readonly port: number;
  /** `address|port`: one pool of sockets per target. */
  readonly key: string;
}

interface Entry {
  readonly promise: Promise<Target>;
  readonly until: number;
  value: Target | undefined;
}

/** Most upstream names cached; past it the cache starts again (upstreams are few). */
const MAX_ENTRIES = 1024;

/**
 * Resolves upstream names (`host:port`, `[v6]:port`) to targets, caching each for `ttlMs`.
 * Concurrent callers share one lookup; a failed lookup is not cached.
 */
export class Resolver {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly lookup: Lookup,
    private readonly ttlMs: number,
  ) {}

  /** The cached target of `upstream` when fresh, without waiting. */
  cached(upstream: string, now: number): Target | undefined {
    const e = this.entries.get(upstream);
    return e !== undefined && e.until > now ? e.value : undefined;
  }

  /** True when `address|port` is where some upstream resolved to. */
  isKnown(key: string): boolean {
    for (const e of this.entries.values()) if (e.value?.key === key) return true;
    return false;
  }

  resolve(upstream: string, now: number): Promise<Target> {
    const hit = this.entries.get(upstream);
    if (hit !== undefined && hit.until > now) return hit.promise;
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    const entry: Entry = {
      promise: this.lookUp(upstream),
      until: now + this.ttlMs,
      value: undefined,
    };
    this.entries.set(upstream, entry);
    entry.promise.then(
      (target) => {
        entry.value = target;
      },
      () => {
        if (this.entries.get(upstream) === entry) this.entries.delete(upstream);
      },
    );
    return entry.promise;
  }

  private async lookUp(upstream: string): Promise<Target> {
    const parsed = parseUpstream(upstream);
    if (typeof parsed === 'string') throw new Error(parsed);
    let address = parsed.host;
    if (parsed.family === 0) {
      const found = await this.lookup(parsed.host);
      address = String(found.address);
    }
    // Trust the address, not a reported family: the socket type must match the address.
    const family = isIP(address);
    if (family === 0) throw new Error(`lookup of ${parsed.host} returned ${address}`);
    const canonical = canonicalIp(address);
    return {
      address: canonical,
      family: family === 6 ? 6 : 4,
      port: parsed.port,
      key: `${canonical}|${parsed.port}`,
    };
  }
}
