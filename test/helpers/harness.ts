import {
  ProxyClient,
  type Cache,
  type ProxyClientOptions,
  type Recorder,
  type Transport,
} from '../../src/index.js';
import {
  FakeTransport,
  RecordingCache,
  RecordingRecorder,
  RecordingRetransmitter,
} from '../../src/testing/index.js';
import { collectEvents, type Events } from './events.js';

/** Upstreams of the unit tests: FakeTransport never sends, so nothing listens there. */
export const A = '[::1]:9301';
export const B = '[::1]:9302';
export const C = '[::1]:9303';

/**
 * Which transport the client gets: a given one (a `FakeTransport` by default, or a real
 * `UdpTransport` for loopback tests), or `'own'` for none, so that the client builds its
 * default `UdpTransport` itself (and closes it on `close()`).
 */
type TransportChoice = Transport | 'own';
type TransportOf<T extends TransportChoice> = T extends Transport ? T : undefined;

/** The client's plain options (not its components), each with the client's default. */
export type ClientOptions = Partial<
  Omit<ProxyClientOptions, 'transport' | 'cache' | 'recorder' | 'retransmitter'>
>;

/** Options of {@link harness}: plain client options, and the components to replace. */
export type HarnessOptions<
  T extends TransportChoice,
  C extends Cache,
  R extends Recorder,
> = ClientOptions & {
  /** @default a new FakeTransport */
  transport?: T;
  /** @default a new RecordingCache */
  cache?: C;
  /** @default a new RecordingRecorder */
  recorder?: R;
};

/** A client, the components it was given, and every event it emitted. */
export interface Harness<
  T = FakeTransport,
  C extends Cache = RecordingCache,
  R extends Recorder = RecordingRecorder,
> {
  client: ProxyClient;
  /** The transport given to the client; undefined when it built its own. */
  transport: T;
  cache: C;
  retransmitter: RecordingRetransmitter;
  recorder: R;
  events: Events;
  /** Closes the client, then the transport the test gave it. */
  close(): Promise<void>;
}

/**
 * A `ProxyClient` wired to recording fakes (cache, retransmitter, recorder) and a
 * `FakeTransport`, upstreams A and B, with every event collected. Any option can be
 * replaced, including the transport (a real `UdpTransport` for loopback tests), the cache
 * and the recorder; the harness hands back whichever the client got.
 */
export function harness<
  T extends TransportChoice = FakeTransport,
  C extends Cache = RecordingCache,
  R extends Recorder = RecordingRecorder,
>(options: HarnessOptions<T, C, R> = {}): Harness<TransportOf<T>, C, R> {
  const { transport: choice, cache, recorder, ...rest } = options;
  // The defaults stand for the type parameters' defaults; TypeScript cannot tie them.
  const transport = (choice ?? new FakeTransport()) as T;
  const given: Transport | undefined = transport === 'own' ? undefined : transport;
  const parts = {
    cache: cache ?? (new RecordingCache() as Cache as C),
    retransmitter: new RecordingRetransmitter(),
    recorder: recorder ?? (new RecordingRecorder() as Recorder as R),
  };
  const client = new ProxyClient({
    upstreams: [A, B],
    ...rest,
    ...parts,
    ...(given === undefined ? {} : { transport: given }),
  });
  return {
    client,
    transport: given as TransportOf<T>,
    ...parts,
    events: collectEvents(client),
    close: async () => {
      await client.close();
      await given?.close?.();
    },
  };
}
