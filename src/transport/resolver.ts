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
  /** The first lookup (until it settles). */
  readonly first: Promise<Target>;
  /** The latest address; kept while a refresh runs, and when one fails. */
  value: Target | undefined;
  /** When `value` should be looked up again. */
  until: number;
  refreshing: boolean;
}

/** Most upstream names cached; past it the cache starts again (upstreams are few). */
const MAX_ENTRIES = 1024;

/**
 * Resolves upstream names (`host:port`, `[v6]:port`) to targets. Concurrent callers share
 * one lookup. A resolved name is served from the cache and looked up again in the
 * background once `ttlMs` has passed, so exchanges never wait for a refresh (waiting
 * NACKs would all leave at once when it ends); if the refresh fails, the last address stays.
 * A first lookup that fails is not cached.
 */
export class Resolver {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly lookup: Lookup,
    private readonly ttlMs: number,
  ) {}

  /** The cached target of `upstream`, without waiting (refreshed in the background when due). */
  cached(upstream: string, now: number): Target | undefined {
    const e = this.entries.get(upstream);
    if (e?.value === undefined) return undefined;
    if (e.until <= now && !e.refreshing) this.refresh(upstream, e, now);
    return e.value;
  }

  /** True when `address|port` is where some upstream resolved to. */
  isKnown(key: string): boolean {
    for (const e of this.entries.values()) if (e.value?.key === key) return true;
    return false;
  }

  resolve(upstream: string, now: number): Promise<Target> {
    const hit = this.cached(upstream, now);
    if (hit !== undefined) return Promise.resolve(hit);
    const pending = this.entries.get(upstream);
    if (pending !== undefined) return pending.first;
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    const entry: Entry = {
      first: this.lookUp(upstream),
      value: undefined,
      until: now + this.ttlMs,
      refreshing: false,
    };
    this.entries.set(upstream, entry);
    entry.first.then(
      (target) => {
        entry.value = target;
      },
      () => {
        if (this.entries.get(upstream) === entry) this.entries.delete(upstream);
      },
    );
    return entry.first;
  }

  private refresh(upstream: string, e: Entry, now: number): void {
    e.refreshing = true;
    this.lookUp(upstream).then(
      (target) => {
        e.value = target;
        e.until = performance.now() + this.ttlMs;
        e.refreshing = false;
      },
      () => {
        e.until = now + this.ttlMs; // keep the last address; try again later
        e.refreshing = false;
      },
    );
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
