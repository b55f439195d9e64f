import type {
  AdmissionTier,
  Component,
  DedupCause,
  DropReason,
  FailReason,
  UpstreamState,
} from './components.js';
import type { HealthCause } from './events.js';

/** Health of one upstream as seen by this client. */
export interface UpstreamStats {
  /** The upstream as configured. */
  upstream: string;
  /**
   * `healthy`; `demoted` (not asked until its cooldown has passed, then probed by one gap);
   * `probing` (that probe is out).
   */
  state: UpstreamState;
  /** Failures in a row since its last answer (timeouts that were not silence, errors). */
  consecutiveFailures: number;
  /** Times this upstream was demoted. */
  demotions: number;
  /** Why it was last demoted (`timeouts`, `unreachable`, `errors`, `overtaken`); undefined if never. */
  demotedFor: HealthCause | undefined;
  /** Smoothed round-trip time, ms (undefined until the first sample). */
  srttMs: number | undefined;
  /** Round-trip variance, ms. */
  rttvarMs: number | undefined;
  /** Attempt timeout this upstream gets now, ms. */
  attemptTimeoutMs: number;
  /** NACKs to this upstream that waited for admission (`nackRate`), at either tier. */
  pacedWaits: number;
  /**
   * Admission waits by tier: `ip` (the upstream's bucket, `perSecond`/`burst`) and `flow`
   * (a HashKey's window, `perFlow` per `flowWindowMs`). A NACK may wait at both.
   */
  admissionWaits: Record<AdmissionTier, number>;
  /**
   * Timeouts taken as silence about one gap (a rate limit, a suppressed MISS): it answered
   * other NACKs within a timeout of that one, so they did not count against it.
   */
  silentTimeouts: number;
  /** Replies by kind. */
  replies: {
    /** Valid frames. */
    frame: number;
    /** MISS answers. */
    miss: number;
    /** THROTTLED answers. */
    throttled: number;
    /** Attempts that timed out. */
    timeout: number;
    /** Send errors, closed port, unresolvable host, invalid frames, transport faults. */
    error: number;
    /** Attempts still unanswered when a hedge on another upstream brought the frame. */
    overtaken: number;
  };
}

/** Counters of a {@link ProxyClient}. Once idle, `requests = recovered + failed + deduped`. */
export interface ProxyStats {
  /** Gaps (sequence numbers) accepted. */
  requests: number;
  /** Gaps recovered. */
  recovered: number;
  /** Failed gaps by reason; `failedTotal` is their sum. */
  failed: Record<FailReason, number>;
  /** Sum of `failed`. */
  failedTotal: number;
  /** Deduplicated gaps by cause; `dedupedTotal` is their sum. */
  deduped: Record<DedupCause, number>;
  /** Sum of `deduped`. */
  dedupedTotal: number;
  /** Refused enqueues by reason; `droppedTotal` is their sum. */
  dropped: Record<DropReason, number>;
  /** Sum of `dropped`. */
  droppedTotal: number;
  /** Faults reported as `error` events, by component. */
  errors: Record<Component, number>;
  /** Gaps waiting for a worker. */
  queued: number;
  /** Gaps waiting for admission, a THROTTLED hold, or an upstream to come back (no worker held). */
  waiting: number;
  /** Gaps being recovered now (a NACK out, or storing and delivering). */
  inFlight: number;
  /** NACKs sent upstream. */
  attempts: number;
  /** Hedged NACKs sent, and recoveries a hedge won. */
  hedges: number;
  /** Recoveries a hedged attempt won. */
  hedgeWins: number;
  /** THROTTLED holds honoured. */
  throttleHolds: number;
  /** NACKs that waited for admission (`nackRate`) before they were sent. */
  pacedWaits: number;
  /** Recovered frames sent by unicast, one per requester (`delivery.unicast`). */
  unicastDeliveries: number;
  /**
   * Frames refused although they came for the gap asked (never cached, never
   * retransmitted), by reason: `malformed`, `legacy` and `wrong-gap` for a frame a custom
   * transport resolved with, and the content-check reasons of `verifyContent`.
   */
  invalidFrames: Record<string, number>;
  /** Gaps currently remembered as recently failed. */
  failureMemory: number;
  /** Health of each upstream, in configured order. */
  upstreams: UpstreamStats[];
  /** Counters of the transport, when it has any (e.g. datagrams ignored by reason). */
  transport: Record<string, number>;
}

/** Mutable counters behind {@link ProxyStats}. */
export class Counters {
  requests = 0;
  recovered = 0;
  failed: Record<FailReason, number> = {
    exhausted: 0,
    aborted: 0,
    deadline: 0,
    'recent-failure': 0,
  };
  deduped: Record<DedupCause, number> = { 'claim-lost': 0, coalesced: 0 };
  dropped: Record<DropReason, number> = {
    'queue-full': 0,
    closed: 0,
    proxied: 0,
    invalid: 0,
    'range-too-large': 0,
  };
  errors: Record<Component, number> = {
    cache: 0,
    deduper: 0,
    retransmitter: 0,
    recorder: 0,
    transport: 0,
    listener: 0,
  };
  attempts = 0;
  hedges = 0;
  hedgeWins = 0;
  throttleHolds = 0;
  pacedWaits = 0;
  unicastDeliveries = 0;
  invalidFrames: Record<string, number> = {};
}

/** Sum of a record's values. */
export function total(record: Record<string, number>): number {
  let n = 0;
  for (const v of Object.values(record)) n += v;
  return n;
}
