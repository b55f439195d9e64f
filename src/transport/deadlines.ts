/**
 * Many deadlines, one timer. Entries link themselves into a list sorted by deadline
 * (inserted from the tail: deadlines mostly arrive in order), and a single Node.js timer is
 * armed for the earliest. Adding and removing an entry allocates nothing, where a
 * `setTimeout` per entry allocates a Timeout and an async resource each time.
 * @module
 */

/** Something with a deadline, linked into one {@link Deadlines} queue at a time. */
export interface Timed {
  /** When it expires, on the queue's clock. */
  readonly deadlineAt: number;
  /** Called once when the deadline passes while queued (it is unqueued first). */
  expire(): void;
  /** Queue links, owned by {@link Deadlines}. */
  earlier: Timed | undefined;
  later: Timed | undefined;
  queued: boolean;
}

/**
 * A deadline queue with one timer. The timer is cleared as soon as the queue is empty, so
 * an idle queue never keeps the process alive. When the entry the timer was armed for
 * leaves early, the timer is left to fire and re-arms for the new earliest entry.
 */
export class Deadlines {
  private head: Timed | undefined;
  private tail: Timed | undefined;
  private timer: NodeJS.Timeout | undefined;
  private armedFor: Timed | undefined;

  constructor(private readonly now: () => number) {}

  /** Queues `t` (it must not be queued already). */
  add(t: Timed): void {
    let before = this.tail;
    while (before !== undefined && before.deadlineAt > t.deadlineAt) before = before.earlier;
    t.earlier = before;
    t.later = before === undefined ? this.head : before.later;
    if (t.later === undefined) this.tail = t;
    else t.later.earlier = t;
    if (before === undefined) this.head = t;
    else before.later = t;
    t.queued = true;
    if (this.head === t) this.arm();
  }

  /** Unqueues `t`; does nothing when it is not queued. */
  remove(t: Timed): void {
    if (!t.queued) return;
    t.queued = false;
    if (t.earlier === undefined) this.head = t.later;
    else t.earlier.later = t.later;
    if (t.later === undefined) this.tail = t.earlier;
    else t.later.earlier = t.earlier;
    t.earlier = undefined;
    t.later = undefined;
    if (this.head === undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.armedFor = undefined;
    }
  }

  /** The queued entries, earliest first (a copy). */
  snapshot(): Timed[] {
    const all: Timed[] = [];
    for (let t = this.head; t !== undefined; t = t.later) all.push(t);
    return all;
  }

  /** The timer fired: expires the entry it was armed for and every entry due no later. */
  fire(): void {
    this.timer = undefined;
    const target = this.armedFor;
    this.armedFor = undefined;
    if (target?.queued === true) {
      const due = target.deadlineAt;
      while (this.head !== undefined && this.head.deadlineAt <= due) {
        const t = this.head;
        this.remove(t);
        t.expire();
      }
    }
    if (this.head !== undefined && this.timer === undefined) this.arm();
  }

  private arm(): void {
    const head = this.head as Timed;
    clearTimeout(this.timer);
    this.armedFor = head;
    this.timer = setTimeout(fireQueue, Math.max(0, head.deadlineAt - this.now()), this);
  }
}

function fireQueue(queue: Deadlines): void {
  queue.fire();
}
