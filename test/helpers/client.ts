import { ProxyClient, type ProxyClientOptions, type ProxyStats } from '../../src/index.js';
import {
  FakeTransport,
  RecordingCache,
  RecordingDeduper,
  RecordingRecorder,
  RecordingRetransmitter,
} from '../../src/testing/index.js';
import type {
  DedupedEvent,
  DroppedEvent,
  ComponentError,
  FailedEvent,
  RecoveredEvent,
} from '../../src/index.js';

export const A = '[::1]:9301';
export const B = '[::1]:9302';
export const C = '[::1]:9303';

/** A client wired to recording fakes, with every event collected. */
export function harness(options: Partial<ProxyClientOptions> = {}) {
  const transport = (options.transport as FakeTransport | undefined) ?? new FakeTransport();
  const cache = new RecordingCache();
  const retransmitter = new RecordingRetransmitter();
  const recorder = new RecordingRecorder();
  const client = new ProxyClient({
    upstreams: [A, B],
    cache,
    retransmitter,
    recorder,
    ...options,
    transport,
  });
  const events = {
    recovered: [] as RecoveredEvent[],
    failed: [] as FailedEvent[],
    deduped: [] as DedupedEvent[],
    dropped: [] as DroppedEvent[],
    error: [] as ComponentError[],
  };
  client.on('recovered', (e) => events.recovered.push(e));
  client.on('failed', (e) => events.failed.push(e));
  client.on('deduped', (e) => events.deduped.push(e));
  client.on('dropped', (e) => events.dropped.push(e));
  client.on('error', (e) => events.error.push(e));
  return { client, transport, cache, retransmitter, recorder, events };
}

export { RecordingDeduper };

/** Asserts the accounting invariant of DESIGN §4 on stats and events together. */
export function accountingHolds(
  s: ProxyStats,
  events: ReturnType<typeof harness>['events'],
): boolean {
  return (
    s.requests === s.recovered + s.failedTotal + s.dedupedTotal &&
    s.recovered === events.recovered.length &&
    s.failedTotal === events.failed.length &&
    s.dedupedTotal === events.deduped.length &&
    s.droppedTotal === events.dropped.length
  );
}
