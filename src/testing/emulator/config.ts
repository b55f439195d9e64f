import { isIP } from 'node:net';
import { describe } from '../../wire/bytes.js';
import {
  checkOptions,
  optionError,
  show,
  type OptionErrorCode,
  type OptionSpec,
} from '../../shared/option-check.js';
import {
  DEFAULT_RETRY_ENDPOINT_LIMITS,
  type EmulatorBehaviour,
  type EmulatorOptions,
  type RetryEndpointLimits,
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

const EMULATOR_OPTIONS: OptionSpec<EmulatorOptions> = {
  host: 'string',
  port: 'number',
  frames: 'object',
  behaviour: 'object',
  retryEndpoint: 'object',
  seed: 'number',
  recordLimit: 'number',
};

const BEHAVIOUR_OPTIONS: OptionSpec<EmulatorBehaviour> = {
  mode: 'string',
  delayMs: 'number',
  dropRate: 'number',
  throttleBucket: 'number',
  throttleTimes: 'number',
};

const RETRY_ENDPOINT_OPTIONS: OptionSpec<RetryEndpointOptions> = {
  limits: 'any', // an object or false, checked by resolveLimits
  shardBits: 'number',
  throttleResponse: 'boolean',
  suppressMiss: 'boolean',
  suppressAck: 'boolean',
  multicast: 'boolean',
  unicast: 'boolean',
  unicastHost: 'string',
  clock: 'function',
};

const LIMIT_TIERS: OptionSpec<RetryEndpointLimits> = {
  ip: 'any',
  sequence: 'any',
  chain: 'any',
  group: 'any',
};

/**
 * Checks the options of {@link UpstreamEmulator.start} (unknown keys, kinds, `host`, `port`,
 * `recordLimit`, and the keys of `behaviour` and `retryEndpoint`) and returns its host.
 * @throws TypeError / RangeError with a Node-style `code`, naming the option.
 */
export function checkEmulatorOptions(options: EmulatorOptions): string {
  const check = checkOptions('UpstreamEmulator', options, EMULATOR_OPTIONS);
  if (options.behaviour !== undefined) {
    checkOptions(check.owner, options.behaviour, BEHAVIOUR_OPTIONS, 'behaviour');
  }
  const retry = options.retryEndpoint;
  if (retry !== undefined) checkOptions(check.owner, retry, RETRY_ENDPOINT_OPTIONS, PREFIX);
  if (typeof retry?.limits === 'object' && retry.limits !== null) {
    checkOptions(check.owner, retry.limits, LIMIT_TIERS, `${PREFIX}.limits`);
  }
  const host = check.string('host', options.host, '::1');
  if (isIP(host) === 0) {
    check.fail('ERR_INVALID_ARG_VALUE', `option host must be an IP address, got ${show(host)}`);
  }
  check.whole('port', options.port, 0, 0, 65535);
  check.whole('recordLimit', options.recordLimit, 100_000, 0);
  return host;
}

const PREFIX = 'retryEndpoint';

/** Throws `UpstreamEmulator: option retryEndpoint.<message>` with `code`. */
function fail(code: OptionErrorCode, message: string): never {
  throw optionError(code, `UpstreamEmulator: option ${PREFIX}.${message}`);
}

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
    const code = typeof shardBits === 'number' ? 'ERR_OUT_OF_RANGE' : 'ERR_INVALID_ARG_TYPE';
    fail(code, `shardBits must be an integer 1..12, got ${describe(shardBits)}`);
  }
  const unicastHost = options.unicastHost ?? host;
  if (isIP(unicastHost) !== isIP(host)) {
    fail(
      'ERR_INVALID_ARG_VALUE',
      `unicastHost must be an IP address of the same family as host ${host}, got ${describe(unicastHost)}`,
    );
  }
  const clock = options.clock ?? (() => performance.now());
  if (typeof clock !== 'function') {
    fail('ERR_INVALID_ARG_TYPE', `clock must be a function, got ${typeof clock}`);
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
    fail('ERR_INVALID_ARG_TYPE', `limits must be an object or false, got ${describe(limits)}`);
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
  const name = `limits.${tier}`;
  if (typeof v !== 'object' || v === null) {
    fail(
      'ERR_INVALID_ARG_TYPE',
      `${name} must be { perSecond, burst } or false, got ${describe(v)}`,
    );
  }
  if (typeof v.perSecond !== 'number' || Number.isNaN(v.perSecond) || v.perSecond < 0) {
    const code = typeof v.perSecond === 'number' ? 'ERR_OUT_OF_RANGE' : 'ERR_INVALID_ARG_TYPE';
    fail(code, `${name}.perSecond must be a number >= 0, got ${describe(v.perSecond)}`);
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
  const name = `limits.${tier}`;
  if (typeof v !== 'object' || v === null) {
    fail('ERR_INVALID_ARG_TYPE', `${name} must be { max, windowMs } or false, got ${describe(v)}`);
  }
  count(v.max, `${name}.max`);
  if (typeof v.windowMs !== 'number' || !(v.windowMs > 0) || !Number.isFinite(v.windowMs)) {
    const code = typeof v.windowMs === 'number' ? 'ERR_OUT_OF_RANGE' : 'ERR_INVALID_ARG_TYPE';
    fail(code, `${name}.windowMs must be a finite number > 0, got ${describe(v.windowMs)}`);
  }
  return { max: v.max, windowMs: v.windowMs };
}

function count(value: unknown, name: string): void {
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    const code = typeof value === 'number' ? 'ERR_OUT_OF_RANGE' : 'ERR_INVALID_ARG_TYPE';
    fail(code, `${name} must be an integer >= 0, got ${describe(value)}`);
  }
}

function flag(value: unknown, name: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') {
    fail('ERR_INVALID_ARG_TYPE', `${name} must be a boolean, got ${describe(value)}`);
  }
  return value;
}
