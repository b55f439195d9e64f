/**
 * Constructor option checks shared by every public class: unknown keys are refused with a
 * "did you mean", and every error names the class and the option and carries a Node-style
 * `code` (`ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE`, `ERR_OUT_OF_RANGE`).
 * @module
 */

/** The `code` of an option error, as Node.js names them. */
export type OptionErrorCode = 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE' | 'ERR_OUT_OF_RANGE';

/** A `TypeError` (wrong type, bad value) or `RangeError` (out of range) with its `code`. */
export type OptionError = (TypeError | RangeError) & { readonly code: OptionErrorCode };

/** What an option must be, checked by {@link checkOptions} when it is not `undefined`. */
export type OptionKind = 'string' | 'number' | 'boolean' | 'function' | 'object' | 'array' | 'any';

/**
 * Every key of an options interface with the kind of its value. Typed so that the compiler
 * refuses a spec that misses an option or names one the interface lacks.
 */
export type OptionSpec<T> = { readonly [K in keyof Required<T>]: OptionKind };

/** Builds the error: a `RangeError` for `ERR_OUT_OF_RANGE`, a `TypeError` otherwise. */
export function optionError(code: OptionErrorCode, message: string): OptionError {
  const error = code === 'ERR_OUT_OF_RANGE' ? new RangeError(message) : new TypeError(message);
  return Object.assign(error, { code });
}

/** A value as an error message shows it: strings quoted, objects summarised. */
export function show(value: unknown): string {
  try {
    if (typeof value === 'string') return JSON.stringify(value);
    if (typeof value === 'bigint') return `${value}n`;
    if (Array.isArray(value)) return `[${value.map(show).join(', ')}]`;
    if (typeof value === 'object' && value !== null) return 'an object';
    if (typeof value === 'function') return 'a function';
    return String(value);
  } catch {
    return `a ${typeof value}`;
  }
}

/**
 * The known name closest to a misspelt one (case-insensitive edit distance at most 3, or
 * half the longer name), if any: `didYouMean('maxSize', ['maxBytes', 'maxEntries'])` is
 * `'maxBytes'`.
 */
export function didYouMean(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = distance(name.toLowerCase(), k.toLowerCase());
    const limit = Math.max(3, Math.floor(Math.max(name.length, k.length) / 2));
    if (d <= limit && d < bestDistance) {
      bestDistance = d;
      best = k;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

function isKind(value: unknown, kind: OptionKind): boolean {
  if (kind === 'any') return true;
  if (kind === 'array') return Array.isArray(value);
  if (kind === 'object') return typeof value === 'object' && value !== null;
  return typeof value === kind;
}

/**
 * Checks an options object and returns the checker for its values. Refuses a non-object
 * (`ERR_INVALID_ARG_TYPE`), an unknown key (`ERR_INVALID_ARG_VALUE`, with a "did you mean"),
 * and, when `known` is an {@link OptionSpec}, a value of the wrong kind
 * (`ERR_INVALID_ARG_TYPE`). `undefined` values of known keys pass.
 *
 * @param owner - the class the options are for, e.g. `'UdpTransport'`
 * @param known - the option names, or an {@link OptionSpec}
 * @param path - the name of a nested options object (`'retryEndpoint'`); its keys are
 *   reported as `retryEndpoint.key`
 * @example
 * ```ts
 * const check = checkOptions('UdpTransport', options, UDP_TRANSPORT_OPTIONS);
 * const guardMs = check.whole('lateReplyGuardMs', options.lateReplyGuardMs, 2000, 0, MAX_TIMER_MS);
 * ```
 */
export function checkOptions(
  owner: string,
  options: unknown,
  known: readonly string[] | Readonly<Record<string, OptionKind>>,
  path?: string,
): OptionCheck {
  const check: OptionCheck = new OptionCheck(owner);
  const what = path ?? 'options';
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    check.fail('ERR_INVALID_ARG_TYPE', `${what} must be an object, got ${show(options)}`);
  }
  const names: readonly string[] = Array.isArray(known) ? known : Object.keys(known);
  const full = (key: string): string => (path === undefined ? key : `${path}.${key}`);
  for (const [key, value] of Object.entries(options)) {
    if (!names.includes(key)) {
      const near = didYouMean(key, names);
      const hint =
        near !== undefined
          ? `; did you mean "${full(near)}"?`
          : names.length <= 12
            ? ` (${what}: ${names.join(', ')})`
            : '';
      check.fail('ERR_INVALID_ARG_VALUE', `unknown option "${full(key)}"${hint}`);
    }
    const kind = Array.isArray(known) ? 'any' : (known as Record<string, OptionKind>)[key];
    if (value !== undefined && kind !== undefined && kind !== 'any' && !isKind(value, kind)) {
      check.fail(
        'ERR_INVALID_ARG_TYPE',
        `option ${full(key)} must be ${/^[aeio]/.test(kind) ? 'an' : 'a'} ${kind}, got ${show(value)}`,
      );
    }
  }
  return check;
}

/** Checks option values for one class; every error names the class and the option. */
export class OptionCheck {
  /** @param owner - the class the options are for, at the start of every message */
  constructor(readonly owner: string) {}

  /** Throws `${owner}: ${message}` with `code`. */
  fail(code: OptionErrorCode, message: string): never {
    throw optionError(code, `${this.owner}: ${message}`);
  }

  /**
   * An integer in `min..max`, or `fallback` when `undefined`. A number outside the range or
   * not whole is `ERR_OUT_OF_RANGE` (as Node.js reports it), anything else
   * `ERR_INVALID_ARG_TYPE`.
   */
  whole(
    name: string,
    value: unknown,
    fallback: number,
    min: number,
    max = Number.MAX_SAFE_INTEGER,
  ): number {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      const code = typeof value === 'number' ? 'ERR_OUT_OF_RANGE' : 'ERR_INVALID_ARG_TYPE';
      const range =
        max < Number.MAX_SAFE_INTEGER
          ? `an integer in ${min}..${max}`
          : min === 1
            ? 'a positive integer'
            : `an integer >= ${min}`;
      this.fail(code, `option ${name} must be ${range}, got ${show(value)}`);
    }
    return value;
  }

  /** A boolean, or `fallback` when `undefined`. */
  bool(name: string, value: unknown, fallback: boolean): boolean {
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') {
      this.fail('ERR_INVALID_ARG_TYPE', `option ${name} must be a boolean, got ${show(value)}`);
    }
    return value;
  }

  /** A non-empty string, or `fallback` when `undefined`. */
  string<F extends string | undefined>(name: string, value: unknown, fallback: F): string | F {
    if (value === undefined) return fallback;
    if (typeof value !== 'string') {
      this.fail('ERR_INVALID_ARG_TYPE', `option ${name} must be a string, got ${show(value)}`);
    }
    if (value === '') {
      this.fail('ERR_INVALID_ARG_VALUE', `option ${name} must not be empty`);
    }
    return value;
  }

  /** One of `allowed`, or `fallback` when `undefined`. */
  oneOf<V extends string>(name: string, value: unknown, allowed: readonly V[], fallback: V): V {
    if (value === undefined) return fallback;
    if (!allowed.includes(value as V)) {
      const list = allowed.map((a) => `'${a}'`).join(', ');
      this.fail(
        'ERR_INVALID_ARG_VALUE',
        `option ${name} must be one of ${list}, got ${show(value)}`,
      );
    }
    return value as V;
  }
}
