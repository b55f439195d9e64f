/**
 * `npm run demo`: one cross-domain recovery, end to end, on loopback.
 *
 *   source ──bridge (loses --loss)──▶ downstream domain ──▶ relay (caches what it sees)
 *                                              └──(loses --local-loss)──▶ consumer
 *   consumer ──NACK──▶ relay: cached ? ACK + frame : MISS + ProxyClient.enqueue
 *   relay ──proxied NACK──▶ upstream emulators ──frame──▶ relay ──retransmit──▶ consumer
 *
 * With `--unicast` the relay's ProxyClient runs with `delivery: { multicast: false,
 * unicast: true }`: each recovered frame goes by unicast to the consumer's NACK socket (the
 * requester the relay puts in the gaps it enqueues), and nothing is multicast.
 *
 * Prints progress on stderr and a summary on stdout; exits 0 when every recoverable gap
 * filled. `npm run demo -- --help` lists the flags.
 */
import { MemoryCache, UdpTransport, cacheKey } from '../src/index.js';
import { loopbackAddress } from '../src/testing/index.js';
import { UdpDomain, startRelay } from '../examples/relay.js';
import { Bridge } from './bridge.js';
import { Consumer, type Gap } from './consumer.js';
import { USAGE, UsageError, parseDemoArgs, type DemoOptions } from './options.js';
import { Progress } from './progress.js';
import { seededRandom } from './random.js';
import { makeStream, gapKey } from './stream.js';
import { passed, renderSummary, type RunResult } from './summary.js';
import { startUpstreams } from './upstreams.js';

async function run(options: DemoOptions): Promise<RunResult> {
  const host = await loopbackAddress();
  const stream = makeStream(options.frames, options.flows);
  // Separate generators, so that changing one flag does not reshuffle the other choices.
  const upstreams = await startUpstreams(
    host,
    options.upstreams,
    options.deadUpstream,
    options.upstreamMiss,
    stream,
    seededRandom(options.seed),
  );
  const consumer = await Consumer.open(host, stream);
  const domain = await UdpDomain.open(host, [consumer.address]);
  // Bound to loopback: by default the transport's sockets would take any address.
  const transport = new UdpTransport({ bindAddress: host });
  const cache = new MemoryCache(); // read synchronously below: the demo keeps its own handle
  const relay = await startRelay({
    cache,
    upstreams: upstreams.endpoints,
    domain,
    transport,
    listen: { address: host, port: 0 },
    ingest: { address: host, port: 0 },
    // --unicast: the relay passes each NACK's sender (the consumer's NACK socket,
    // consumer.unicastAddress) as the gap's requester; the client sends the frame there only.
    ...(options.unicast ? { client: { delivery: { multicast: false, unicast: true } } } : {}),
  });
  const failedOnce = new Set<string>();
  relay.relay.client.on('failed', (e) => failedOnce.add(gapKey(e.hashKey, e.seq)));
  consumer.connect({ relayNack: relay.nack, relayDomain: domain.local });
  const bridge = await Bridge.open(host);

  const recoverable = (g: Gap): boolean =>
    upstreams.holds(g.hashKey, g.seq) || cache.retrieve(cacheKey(g.hashKey, g.seq)) !== undefined;
  const progress = new Progress(() => {
    const s = relay.relay.client.stats();
    return (
      `stream ${bridge.done}/${options.frames}  gaps ${consumer.gaps.size}  ` +
      `open ${consumer.open.size}  relay: recovered ${s.recovered}, in flight ${s.inFlight}, ` +
      `failed ${s.failedTotal}`
    );
  });
  const started = performance.now();
  const giveUp = new AbortController();
  const hardStop = setTimeout(() => giveUp.abort(), options.maxSeconds * 1000);
  try {
    await bridge.play(
      stream,
      { relay: relay.ingest, consumer: consumer.address },
      options.rate,
      { bridge: options.loss, lastHop: options.localLoss, random: seededRandom(options.seed + 1) },
      giveUp.signal,
    );
    await sleep(50); // let the last datagrams land before calling the tail missing
    consumer.endOfStream();
    // Done when each open gap is one nobody can fill and the relay has given up on it once.
    while (!giveUp.signal.aborted) {
      const waiting = [...consumer.open].some(
        (g) => recoverable(g) || !failedOnce.has(gapKey(g.hashKey, g.seq)),
      );
      if (!waiting) break;
      await sleep(20);
    }
    const open = [...consumer.open];
    return {
      options,
      host,
      seconds: (performance.now() - started) / 1000,
      timedOut: giveUp.signal.aborted,
      lostAtBridge: bridge.lostAtBridge,
      lostLastHop: bridge.lostLastHop,
      gaps: [...consumer.gaps.values()],
      unrecoverable: open.filter((g) => !recoverable(g)),
      stuck: open.filter(recoverable),
      client: relay.relay.client.stats(),
      deadUpstream: upstreams.dead,
      nacksSent: consumer.nacksSent,
      relayCopies: { ...consumer.relayCopies },
      requester: consumer.unicastAddress,
    };
  } finally {
    clearTimeout(hardStop);
    progress.stop();
    await bridge.close();
    await relay.close();
    await transport.close();
    await domain.close();
    await consumer.close();
    await upstreams.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function main(): Promise<number> {
  let options: DemoOptions | undefined;
  try {
    options = parseDemoArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (options === undefined) {
    console.log(USAGE);
    return 0;
  }
  const result = await run(options);
  console.log(renderSummary(result));
  return passed(result) ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
    // Every socket and timer is closed, so the process ends by itself; this is a backstop
    // that turns a leaked handle into a prompt exit instead of a hang.
    setTimeout(() => process.exit(code), 2000).unref();
  },
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
