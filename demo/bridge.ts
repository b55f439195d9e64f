import type { Socket } from 'node:dgram';
import { bindSocket, type Bound } from '../examples/relay.js';
import type { Stream } from './stream.js';

/** Where the downstream domain's listeners receive live frames. */
export interface DomainListeners {
  relay: Bound;
  consumer: Bound;
}

/** Loss knobs of one streaming run. */
export interface Losses {
  /** Share of frames the bridge never emits: only an upstream can fill these. */
  bridge: number;
  /** Share of emitted frames the consumer alone misses: the relay's cache fills these. */
  lastHop: number;
  random: () => number;
}

/**
 * Plays the bridge from the upstream domain into the downstream one. On loopback there is no
 * multicast to lean on, so each emitted frame is sent to each listener, which is what one
 * multicast datagram would deliver.
 */
export class Bridge {
  /** Frames handled so far (emitted or lost), for progress. */
  done = 0;
  lostAtBridge = 0;
  lostLastHop = 0;

  private constructor(private readonly socket: Socket) {}

  static async open(host: string): Promise<Bridge> {
    return new Bridge(await bindSocket(host, 0));
  }

  /** Emits the stream at `rate` frames per second; stops early when `signal` aborts. */
  async play(
    stream: Stream,
    to: DomainListeners,
    rate: number,
    losses: Losses,
    signal: AbortSignal,
  ): Promise<void> {
    const started = performance.now();
    const { frames } = stream;
    // After a stalled tick, catch up by at most this many frames at once: a larger burst
    // would overflow the receivers' socket buffers and add loss nobody asked for.
    const burst = Math.max(8, Math.ceil(rate / 100));
    while (this.done < frames.length && !signal.aborted) {
      const onTime = Math.ceil(((performance.now() - started) * rate) / 1000);
      const due = Math.min(frames.length, onTime, this.done + burst);
      for (; this.done < due; this.done++) {
        const { frame } = frames[this.done]!;
        if (losses.random() < losses.bridge) {
          this.lostAtBridge++;
          continue;
        }
        this.socket.send(frame, to.relay.port, to.relay.address);
        if (losses.random() < losses.lastHop) this.lostLastHop++;
        else this.socket.send(frame, to.consumer.port, to.consumer.address);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
