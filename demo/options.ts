import { parseArgs } from 'node:util';

/** The demo's knobs; see {@link USAGE}. */
export interface DemoOptions {
  frames: number;
  flows: number;
  loss: number;
  localLoss: number;
  upstreams: number;
  deadUpstream: boolean;
  upstreamMiss: number;
  rate: number;
  seed: number;
  maxSeconds: number;
  /** Deliver recovered frames by unicast to the requester, not into the domain. */
  unicast: boolean;
}

export const USAGE = `usage: npm run demo -- [flags]

  --frames N          frames in the stream, over all flows            (default 5000)
  --flows N           flows (HashKeys) the frames are spread over      (default 4)
  --loss R            share lost at the bridge: neither relay nor
                      consumer sees it, only an upstream can fill it   (default 0.05)
  --local-loss R      share lost on the consumer's last hop only:
                      the relay's cache fills it                       (default 0.01)
  --upstreams N       upstream retry endpoints                         (default 2)
  --dead-upstream     the first upstream answers nothing (needs >= 2)
  --upstream-miss R   share of frames each upstream lacks              (default 0.02)
  --rate N            frames per second the bridge sends               (default 5000)
  --seed N            seed of every random choice                      (default 1)
  --max-seconds N     give up after this long                          (default 60)
  --unicast           the relay delivers recovered frames by unicast to
                      the consumer that NACKed them, and multicasts
                      nothing (delivery: { multicast: false, unicast: true })
  --help              this text

Exit status: 0 when every recoverable gap filled, 1 when one did not, 2 for bad flags.`;

/** A flag had a bad value; the message says which. */
export class UsageError extends Error {}

/** Parses the command line; `undefined` means `--help` was asked for. */
export function parseDemoArgs(argv: string[]): DemoOptions | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        frames: { type: 'string', default: '5000' },
        flows: { type: 'string', default: '4' },
        loss: { type: 'string', default: '0.05' },
        'local-loss': { type: 'string', default: '0.01' },
        upstreams: { type: 'string', default: '2' },
        'dead-upstream': { type: 'boolean', default: false },
        'upstream-miss': { type: 'string', default: '0.02' },
        rate: { type: 'string', default: '5000' },
        seed: { type: 'string', default: '1' },
        'max-seconds': { type: 'string', default: '60' },
        unicast: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) return undefined;
  const options: DemoOptions = {
    frames: integer('frames', values.frames, 1, 1_000_000),
    flows: integer('flows', values.flows, 1, 1000),
    loss: share('loss', values.loss),
    localLoss: share('local-loss', values['local-loss']),
    upstreams: integer('upstreams', values.upstreams, 1, 16),
    deadUpstream: values['dead-upstream'],
    upstreamMiss: share('upstream-miss', values['upstream-miss']),
    rate: integer('rate', values.rate, 1, 200_000),
    seed: integer('seed', values.seed, 0, 0xffff_ffff),
    maxSeconds: integer('max-seconds', values['max-seconds'], 1, 3600),
    unicast: values.unicast,
  };
  if (options.deadUpstream && options.upstreams < 2) {
    throw new UsageError('--dead-upstream needs --upstreams 2 or more, so that one can answer');
  }
  if (options.flows > options.frames) {
    throw new UsageError(`--flows ${options.flows} is more than --frames ${options.frames}`);
  }
  return options;
}

function integer(flag: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${flag} must be an integer in ${min}..${max}, got ${text}`);
  }
  return n;
}

function share(flag: string, text: string): number {
  const n = Number(text);
  // 1 would lose every frame, leaving no stream to detect gaps in.
  if (!(n >= 0 && n < 1)) throw new UsageError(`--${flag} must be in [0, 1), got ${text}`);
  return n;
}
