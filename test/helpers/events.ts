import { expect } from 'vitest';
import type {
  ComponentError,
  DedupedEvent,
  DroppedEvent,
  FailedEvent,
  ProxyClient,
  ProxyStats,
  RecoveredEvent,
  UpstreamEvent,
} from '../../src/index.js';

/** Every outcome and fault event a client emitted, by name, oldest first. */
export interface Events {
  recovered: RecoveredEvent[];
  failed: FailedEvent[];
  deduped: DedupedEvent[];
  dropped: DroppedEvent[];
  error: ComponentError[];
  upstream: UpstreamEvent[];
}

/** Keeps every `recovered`, `failed`, `deduped`, `dropped`, `error` and `upstream` event of `client`. */
export function collectEvents(client: ProxyClient): Events {
  const events: Events = {
    recovered: [],
    failed: [],
    deduped: [],
    dropped: [],
    error: [],
    upstream: [],
  };
  client.on('recovered', (e) => events.recovered.push(e));
  client.on('failed', (e) => events.failed.push(e));
  client.on('deduped', (e) => events.deduped.push(e));
  client.on('dropped', (e) => events.dropped.push(e));
  client.on('error', (e) => events.error.push(e));
  client.on('upstream', (e) => events.upstream.push(e));
  return events;
}

/**
 * Asserts that stats and events tell the same story: every accepted request ended in one
 * outcome (recovered + failed + deduped), each kind of outcome event matches its counter,
 * each refused enqueue its `dropped` event, and each component fault its `error` event (a
 * throwing listener is counted under `errors.listener` and has no event). Compared as one
 * object, so a failure prints which of these numbers is off.
 */
export function expectAccounting(stats: ProxyStats, events: Events): void {
  const faults = Object.values(stats.errors).reduce((a, b) => a + b, 0) - stats.errors.listener;
  const told = {
    'requests (expected: recovered + failed + deduped)': stats.requests,
    'recovered events': events.recovered.length,
    'failed events': events.failed.length,
    'deduped events': events.deduped.length,
    'dropped events': events.dropped.length,
    'error events': events.error.length,
  };
  expect(told, 'stats and events disagree').toEqual({
    'requests (expected: recovered + failed + deduped)':
      stats.recovered + stats.failedTotal + stats.dedupedTotal,
    'recovered events': stats.recovered,
    'failed events': stats.failedTotal,
    'deduped events': stats.dedupedTotal,
    'dropped events': stats.droppedTotal,
    'error events': faults,
  });
}
