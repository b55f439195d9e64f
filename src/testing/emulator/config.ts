import { isIP } from 'node:net';
import { describe } from '../../wire/bytes.js';
import {
  DEFAULT_RETRY_ENDPOINT_LIMITS,
  type RetryEndpointOptions,
  type TokenBucketLimit,
  type WindowLimit,
} from './options.js';
import type { LimitSettings } from './limits.js';

/** {@link RetryEndpointOptions} with every default applied and every value checked. */
export interface RetryEndpointConfig {
  limits: LimitSettings;
  shardBits: number;
  throttleResponse: boolean;
  suppressMiss: boolean;
  suppressAck: boolean;
  multicast: boolean;
  unicast: boolean;
  unicastHost: string;
  clock: () => number;
}

const PREFIX = 'retryEndpoint';

/**
 * Applies the defaults to `options` for an emulator on `host`.
 * @throws TypeError / RangeError naming the option and the value.
 */
export function resolveRetryEndpoint(
  options: RetryEndpointOptions = {},
  host: string,
): RetryEndpointConfig {
  const shardBits = options.shardBits ?? 2;
  if (!Number.isInteger(shardBits) || shardBits < 1 || shardBits > 12) {
    throw new RangeError(
      `${PREFIX}.shardBits must be an integer 1..12, got ${describe(shardBits)}`,
    );
  }
  const unicastHost = options.unicastHost ?? host;
  if (isIP(unicastHost) !== isIP(host)) {
    throw new TypeError(
      `${PREFIX}.unicastHost must be an IP address of the same family as host ${host}, got ${describe(unicastHost)}`,
    );
  }
  const clock = options.clock ?? (() => performance.now());
  if (typeof clock !== 'function') {
    throw new TypeError(`${PREFIX}.clock must be a function, got ${typeof clock}`);
  }
  return {
    limits: resolveLimits(options.limits),
    shardBits,
    throttleResponse: flag(options.throttleResponse, 'throttleResponse'),
    suppressMiss: flag(options.suppressMiss, 'suppressMiss'),
    suppressAck: flag(options.suppressAck, 'suppressAck'),
    multicast: flag(options.multicast, 'multicast'),
    unicast: flag(options.unicast, 'unicast'),
    unicastHost,
    clock,
  };
}

function resolveLimits(limits: RetryEndpointOptions['limits']): LimitSettings {
  if (limits === false) return {};
  if (limits !== undefined && (typeof limits !== 'object' || limits === null)) {
    throw new TypeError(`${PREFIX}.limits must be an object or false, got ${describe(limits)}`);
  }
  const d = DEFAULT_RETRY_ENDPOINT_LIMITS;
  const out: LimitSettings = {};
  const ip = bucket(limits?.ip, d.ip, 'ip');
  const sequence = window(limits?.sequence, d.sequence, 'sequence');
  const chain = window(limits?.chain, d.chain, 'chain');
  const group = bucket(limits?.group, d.group, 'group');
  if (ip) out.ip = ip;
  if (sequence) out.sequence = sequence;
  if (chain) out.chain = chain;
  if (group) out.group = group;
  return out;
}

function bucket(
  value: TokenBucketLimit | false | undefined,
  fallback: TokenBucketLimit,
  tier: string,
): TokenBucketLimit | undefined {
  if (value === false) return undefined;
  const v = value ?? fallback;
  const name = `${PREFIX}.limits.${tier}`;
  if (typeof v !== 'object' || v === null) {
    throw new TypeError(`${name} must be { perSecond, burst } or false, got ${describe(v)}`);
  }
  if (typeof v.perSecond !== 'number' || Number.isNaN(v.perSecond) || v.perSecond < 0) {
    throw new RangeError(`${name}.perSecond must be a number >= 0, got ${describe(v.perSecond)}`);
  }
  count(v.burst, `${name}.burst`);
  return { perSecond: v.perSecond, burst: v.burst };
}

function window(
  value: WindowLimit | false | undefined,
  fallback: WindowLimit,
  tier: string,
): WindowLimit | undefined {
  if (value === false) return undefined;
  const v = value ?? fallback;
  const name = `${PREFIX}.limits.${tier}`;
  if (typeof v !== 'object' || v === null) {
    throw new TypeError(`${name} must be { max, windowMs } or false, got ${describe(v)}`);
  }
  count(v.max, `${name}.max`);
  if (typeof v.windowMs !== 'number' || !(v.windowMs > 0) || !Number.isFinite(v.windowMs)) {
    throw new RangeError(
      `${name}.windowMs must be a finite number > 0, got ${describe(v.windowMs)}`,
    );
  }
  return { max: v.max, windowMs: v.windowMs };
}

function count(value: unknown, name: string): void {
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw new RangeError(`${name} must be an integer >= 0, got ${describe(value)}`);
  }
}

function flag(value: unknown, name: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') {
    throw new TypeError(`${PREFIX}.${name} must be a boolean, got ${describe(value)}`);
  }
  return value;
}
