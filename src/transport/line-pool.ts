import type { Line } from './lines.js';

/** The lines of one target that no exchange uses, each list in the order they came back. */
interface Resting {
  /** Usable now; taken from the end (the most recently used first). */
  readonly ready: Line[];
  /** Waiting out their late-reply guard; `coolUntil` grows along the list. */
  readonly cooling: Line[];
}

/**
 * The lines of a transport that no exchange uses (idle, or resting after a timeout), across
 * every target, at most `maxIdle` of them: past that the least recently used is closed, and
 * a line whose exchange timed out is closed instead of rested (it could not serve before its
 * guard ends, and a late reply to a closed socket is dropped by the kernel). Lines in use
 * are not here, so a transport holds at most exchanges in flight + `maxIdle` lines.
 *
 * Every step is O(1): a Set keeps the resting lines in the order they came back (its first
 * is the least recently used), and per target that order also holds within each list, so
 * the least recently used line of all is at the front of its target's list.
 */
export class LinePool {
  private readonly lru = new Set<Line>();
  private readonly byTarget = new Map<string, Resting>();

  constructor(private readonly maxIdle: number) {}

  /** Lines resting here. */
  get size(): number {
    return this.lru.size;
  }

  /** A line to `targetKey` usable at `now`, or undefined when a new one must be opened. */
  take(targetKey: string, now: number): Line | undefined {
    const resting = this.byTarget.get(targetKey);
    if (resting === undefined) return undefined;
    let line = resting.ready.pop();
    if (line === undefined) {
      const first = resting.cooling[0];
      if (first === undefined || first.coolUntil > now) return undefined;
      resting.cooling.shift();
      line = first;
    }
    this.lru.delete(line);
    return line;
  }

  /**
   * Rests a line whose exchange ended (cooling until `line.coolUntil` if that is after
   * `now`). Returns the line to close to keep the bound, if any: this one, or the least
   * recently used.
   */
  give(line: Line, now: number): Line | undefined {
    if (line.closed) return undefined;
    const cooling = line.coolUntil > now;
    let surplus: Line | undefined;
    if (this.lru.size >= this.maxIdle) {
      // A ready line is worth more than one that could not serve before its guard ends.
      if (cooling || this.maxIdle === 0) return line;
      surplus = this.evictOldest();
    }
    let resting = this.byTarget.get(line.target.key);
    if (resting === undefined) {
      resting = { ready: [], cooling: [] };
      this.byTarget.set(line.target.key, resting);
    }
    (cooling ? resting.cooling : resting.ready).push(line);
    this.lru.add(line);
    return surplus;
  }

  /** Forgets every resting line (the transport closes them all). */
  clear(): void {
    this.lru.clear();
    this.byTarget.clear();
  }

  private evictOldest(): Line | undefined {
    for (const line of this.lru) {
      this.lru.delete(line);
      const resting = this.byTarget.get(line.target.key);
      if (resting?.cooling[0] === line) resting.cooling.shift();
      else resting?.ready.shift();
      return line;
    }
    return undefined;
  }
}
