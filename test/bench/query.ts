/**
 * Benchmark 2 (DESIGN.md): query throughput, latency and memory with dnsperf — the dnssync
 * agent against CoreDNS (the server NodeLocal DNSCache runs, with a Corefile like
 * node-cache's), unbound and dnsmasq, serving the same 10,000-record zone on this machine
 * with the same number of server threads, in one run. Two workloads: authoritative hits (the
 * zone) and cached forwarded names (each server forwards fwd.bench. to one upstream unbound
 * and is warmed first).
 *
 * QPS comes from a closed-loop dnsperf run (-q outstanding queries, as fast as answered);
 * p50/p99/p99.9/max latency from a second run at a fixed offered rate (the same for every
 * server), with dnsperf -v printing each query's latency. A query that times out counts as
 * lost and as a latency of the timeout (test/util/dnsperf.ts): percentiles over answered
 * queries only would hide the worst ones.
 *
 *   node dist/test/bench/query.js [--seconds 8] [--threads 1] [--rate 20000] [--rounds 3]
 *                                 [--context] [--out FILE]
 *   (make bench-query passes --seconds 15 --rounds 5)
 *
 * On a small shared machine one run is at the mercy of whatever else is scheduled in those
 * seconds, so the servers are measured in --rounds interleaved rounds (agent, CoreDNS,
 * unbound, ...) of --seconds/rounds each; each number reported is the median over the
 * rounds, and the per-round figures are kept in the JSON with the load average.
 *
 * CoreDNS (test/coredns/build.sh) runs with GOMAXPROCS = --threads. Its Corefile follows
 * NodeLocal DNSCache's (k8s.io/dns nodelocaldns): errors, cache, reload, loop, forward,
 * prometheus and health on, with the zone served by `file` behind node-cache's cluster-zone
 * cache settings (success/denial 9984, 30/5 s) for the authoritative workload.
 *
 * The floor of Node's UDP path — a server that does no DNS work (dgram-floor.ts), under the
 * agent's V8 flags — is measured beside them (authoritative workload only): no Node program
 * answers faster. --context adds the agent with Node's own V8 heap settings.
 *
 * Memory: each server's RSS after its load, and the agent as the chart runs it (upstream,
 * --sync-listen with TSIG, --metrics-listen) holding 100,000 records pushed by `dnssync
 * primary` and 100,000 forwarded names in its cache (each asked twice), with 1 and with 2
 * workers — counting the queries the upstream received for those names (each should be
 * fetched once) — right after the load and 15 s later (V8's memory reducer runs a few
 * seconds after a burst); CoreDNS holding the same for reference.
 *
 * Writes test/bench/results/query.json (query-threadsN.json for --threads N > 1) and prints
 * a table.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureLoopback, freePort, rawQuery, udpExchange } from '../agent/helpers.js';
import { startUnbound, type Unbound } from '../agent/unbound.js';
import { KEY } from '../sync/helpers.js';
import { writeKey } from '../sync/procs.js';
import { AGENT_V8_FLAGS, envDefaults } from '../../src/agent/v8-defaults.js';
import { parseVerbose, percentile, statistic } from '../util/dnsperf.js';
import { waitFor } from '../util/wait.js';

const exec = promisify(execFile);

const args = process.argv.slice(2);
function arg(name: string, def: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
}
const SECONDS = arg('seconds', 8);
const THREADS = arg('threads', 1);
const RATE = arg('rate', 20_000);
const ROUNDS = Math.max(1, arg('rounds', 3));
const CONTEXT = args.includes('--context');
const OUT_FILE = args.includes('--out') ? (args[args.indexOf('--out') + 1] as string) : undefined;
/**
 * Another build's tree (a checkout with its own `npm ci && make build`): its agent runs as one
 * more server in the same rounds, for before/after figures from one run.
 */
const BASELINE = args.includes('--baseline') ? (args[args.indexOf('--baseline') + 1] as string) : undefined;
/** Seconds of each closed-loop and each fixed-rate run in one round. */
const ROUND_SECONDS = Math.max(2, Math.round(SECONDS / ROUNDS));
/** dnsperf -t: how long a query may go unanswered before it counts as lost (its default). */
const TIMEOUT_S = 5;
const RECORDS = 10_000;
const FWD_NAMES = 1_000;
const BIG = 100_000;
/** Idle seconds before the settled memory figure. */
const SETTLE_S = 15;

const IP = {
  agent: '127.0.11.1',
  unbound: '127.0.11.2',
  dnsmasq: '127.0.11.3',
  upstream: '127.0.11.4',
  rss: '127.0.11.5',
  agentNodeDefaults: '127.0.11.6',
  floor: '127.0.11.7',
  coredns: '127.0.11.8',
  bigUpstream: '127.0.11.9',
  primary: '127.0.11.10',
  baseline: '127.0.11.11',
};
const MAIN = 'dist/src/cli/main.js';
const FLOOR = 'dist/test/bench/dgram-floor.js';

interface Run {
  qps: number;
  avgMs: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** Closed-loop run: queries dnsperf counted lost. */
  lost: number;
  /** Fixed-rate run: queries sent and queries that timed out (in the percentiles at the timeout). */
  latencySent: number;
  latencyTimedOut: number;
  rcodes: string;
  /** One entry per round; the fields above are their medians (lost counts: the sums). */
  rounds?: { qps: number[]; p99Ms: number[]; p999Ms: number[]; maxMs: number[] };
}

interface ServerResult {
  server: string;
  threads: number;
  authoritative: Run;
  forwarded: Run;
  /** VmRSS after all rounds, kB. */
  rssKbAfterLoad: number;
}

function zoneText(n: number, origin: string): string {
  const lines = [`$ORIGIN ${origin}.`, '$TTL 300', '@ IN SOA ns hostmaster 1 3600 600 86400 60', '@ IN NS ns', 'ns IN A 10.255.0.1'];
  for (let i = 0; i < n; i++) lines.push(`h${i} IN A ${ipOf(i)}`);
  return lines.join('\n') + '\n';
}

function ipOf(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

/** Deterministic shuffle so every server sees the same query order. */
function shuffled<T>(xs: T[]): T[] {
  let s = 12345;
  const out = xs.slice();
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

async function dnsperf(host: string, port: number, file: string, extra: string[]): Promise<string> {
  const { stdout } = await exec('dnsperf', ['-s', host, '-p', String(port), '-d', file, '-T', String(THREADS), '-c', String(Math.max(THREADS, 4)), '-t', String(TIMEOUT_S), ...extra], {
    maxBuffer: 1024 * 1024 * 1024,
  });
  return stdout;
}

async function measure(host: string, port: number, file: string): Promise<Run> {
  const closed = await dnsperf(host, port, file, ['-l', String(ROUND_SECONDS), '-q', '200']);
  // Latency at a fixed offered rate, every query's time from -v.
  const verbose = await dnsperf(host, port, file, ['-l', String(Math.min(ROUND_SECONDS, 5)), '-q', '200', '-Q', String(RATE), '-v']);
  const lat = parseVerbose(verbose, TIMEOUT_S * 1000);
  return {
    qps: Math.round(statistic(closed, /Queries per second:\s+([\d.]+)/)),
    avgMs: statistic(closed, /Average Latency \(s\):\s+([\d.]+)/) * 1000,
    p50Ms: percentile(lat.sortedMs, 50),
    p99Ms: percentile(lat.sortedMs, 99),
    p999Ms: percentile(lat.sortedMs, 99.9),
    maxMs: percentile(lat.sortedMs, 100),
    lost: statistic(closed, /Queries lost:\s+(\d+)/),
    latencySent: lat.answered + lat.timedOut,
    latencyTimedOut: lat.timedOut,
    rcodes: /Response codes:\s+(.*)/.exec(closed)?.[1]?.trim() ?? '',
  };
}

function median(xs: number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function combine(runs: Run[]): Run {
  const med = (f: (r: Run) => number): number => median(runs.map(f));
  return {
    qps: Math.round(med((r) => r.qps)),
    avgMs: med((r) => r.avgMs),
    p50Ms: med((r) => r.p50Ms),
    p99Ms: med((r) => r.p99Ms),
    p999Ms: med((r) => r.p999Ms),
    maxMs: med((r) => r.maxMs),
    lost: runs.reduce((n, r) => n + r.lost, 0),
    latencySent: runs.reduce((n, r) => n + r.latencySent, 0),
    latencyTimedOut: runs.reduce((n, r) => n + r.latencyTimedOut, 0),
    rcodes: runs[runs.length - 1]?.rcodes ?? '',
    rounds: { qps: runs.map((r) => r.qps), p99Ms: runs.map((r) => r.p99Ms), p999Ms: runs.map((r) => r.p999Ms), maxMs: runs.map((r) => r.maxMs) },
  };
}

async function waitAnswering(host: string, port: number, name: string, timeoutMs = 20_000): Promise<void> {
  await waitFor(async () => (await udpExchange(host, port, rawQuery(name, 1), 300)) !== undefined, { what: `${host}:${port} answering ${name}`, timeoutMs });
}

/** Waits for an answer with at least one record (the zone has arrived, not just a REFUSED). */
async function waitAnswered(host: string, port: number, name: string, timeoutMs: number): Promise<void> {
  await waitFor(
    async () => {
      const r = await udpExchange(host, port, rawQuery(name, 1), 300);
      return r !== undefined && r.length >= 12 && r.readUInt16BE(6) > 0;
    },
    { what: `${host}:${port} answering ${name} with data`, timeoutMs },
  );
}

function procStatus(pid: number, field: string): number {
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    p.once('exit', () => resolve());
    p.kill('SIGTERM');
  });
}

/** A Corefile like NodeLocal DNSCache's (see the header), on `host:port`. */
function corefile(host: string, port: number, metricsPort: number, healthPort: number, zone: { origin: string; file: string }, upstream: string): string {
  return `${zone.origin}:${port} {
    bind ${host}
    errors
    cache {
        success 9984 30
        denial 9984 5
    }
    reload
    file ${zone.file}
    prometheus ${host}:${metricsPort}
    health ${host}:${healthPort}
}
.:${port} {
    bind ${host}
    errors
    cache 30
    reload
    loop
    forward . ${upstream}
    prometheus ${host}:${metricsPort}
}
`;
}

/** `n` distinct free ports on `host` (two freePort calls may hand out the same number). */
async function ports(host: string, n: number): Promise<number[]> {
  const out = new Set<number>();
  for (let tries = 0; out.size < n && tries < 100; tries++) out.add(await freePort(host));
  if (out.size < n) throw new Error(`no ${n} distinct free ports on ${host}`);
  return [...out];
}

async function main(): Promise<void> {
  for (const ip of Object.values(IP)) await ensureLoopback(ip);
  const corednsDir = (await exec('bash', ['test/coredns/build.sh'], { maxBuffer: 16 * 1024 * 1024 })).stdout.trim().split('\n').pop() as string;
  const COREDNS = join(corednsDir, 'coredns');
  const corednsVersion = (await exec(COREDNS, ['-version'])).stdout.trim().split('\n')[0] ?? '';
  const loadAtStart = loadavg();
  const dir = await mkdtemp(join(tmpdir(), 'dnssync-bench-'));
  const zoneFile = join(dir, 'bench.zone');
  writeFileSync(zoneFile, zoneText(RECORDS, 'bench.test'));
  const authQueries = join(dir, 'auth.txt');
  writeFileSync(authQueries, shuffled(Array.from({ length: RECORDS }, (_, i) => `h${i}.bench.test A`)).join('\n') + '\n');
  const fwdQueries = join(dir, 'fwd.txt');
  writeFileSync(fwdQueries, shuffled(Array.from({ length: FWD_NAMES }, (_, i) => `f${i}.fwd.bench A`)).join('\n') + '\n');
  const keyFile = writeKey(dir, KEY);

  const procs: ChildProcess[] = [];
  const unbounds: Unbound[] = [];
  try {
    // The upstream every server forwards fwd.bench. to.
    const upstream = await startUnbound({
      host: IP.upstream,
      localZones: ['fwd.bench. static'],
      localData: ['fwd.bench. 3600 IN SOA ns h 1 3600 600 86400 60', ...Array.from({ length: FWD_NAMES }, (_, i) => `f${i}.fwd.bench. 3600 IN A ${ipOf(i)}`)],
    });
    unbounds.push(upstream);
    const up = `${IP.upstream}@${upstream.port}`;

    // The agent as the chart runs it: upstream, sync port with TSIG, metrics. The zone comes
    // from a file here (the 100,000-record memory figure below has it pushed by a primary).
    const startAgent = async (ip: string, env: Record<string, string>, main = MAIN): Promise<{ port: number; proc: ChildProcess }> => {
      const [port, sync, metrics] = (await ports(ip, 3)) as [number, number, number];
      const proc = spawn(
        process.execPath,
        [main, 'agent', '--listen', `${ip}:${port}`, '--zone-file', zoneFile, '--upstream', `${IP.upstream}:${upstream.port}`, '--sync-listen', `${ip}:${sync}`, '--tsig-key-file', keyFile, '--metrics-listen', `${ip}:${metrics}`, '--workers', String(THREADS), '--log-level', 'warn'],
        { stdio: 'inherit', env: { ...process.env, ...env } },
      );
      procs.push(proc);
      return { port, proc };
    };
    const agent = await startAgent(IP.agent, {});
    const agentNodeDefaults = CONTEXT ? await startAgent(IP.agentNodeDefaults, { DNSSYNC_V8_DEFAULTS: '0' }) : undefined;
    const baselineCommit = BASELINE === undefined ? undefined : (await exec('git', ['-C', BASELINE, 'rev-parse', '--short', 'HEAD'])).stdout.trim();
    const baseline = BASELINE === undefined ? undefined : await startAgent(IP.baseline, {}, join(BASELINE, MAIN));

    // The floor: Node's UDP path with no DNS work, under the agent's V8 settings.
    const floorPort = await freePort(IP.floor);
    const floor = spawn(process.execPath, [...AGENT_V8_FLAGS, FLOOR, IP.floor, String(floorPort)], { stdio: 'inherit', env: { ...process.env, ...envDefaults(process.env) } });
    procs.push(floor);

    // CoreDNS with a node-cache-like Corefile, GOMAXPROCS = server threads.
    const [corednsPort, corednsMetrics, corednsHealth] = (await ports(IP.coredns, 3)) as [number, number, number];
    const corefilePath = join(dir, 'Corefile');
    writeFileSync(corefilePath, corefile(IP.coredns, corednsPort, corednsMetrics, corednsHealth, { origin: 'bench.test', file: zoneFile }, `${IP.upstream}:${upstream.port}`));
    const coredns = spawn(COREDNS, ['-conf', corefilePath, '-quiet'], { stdio: ['ignore', 'ignore', 'inherit'], cwd: dir, env: { ...process.env, GOMAXPROCS: String(THREADS) } });
    procs.push(coredns);

    // unbound serving the same records as local-data, forwarding fwd.bench.
    const unbound = await startUnbound({
      host: IP.unbound,
      threads: THREADS,
      localZones: ['bench.test. static'],
      localData: ['bench.test. 300 IN SOA ns.bench.test. hostmaster.bench.test. 1 3600 600 86400 60', ...Array.from({ length: RECORDS }, (_, i) => `h${i}.bench.test. 300 IN A ${ipOf(i)}`)],
      extra: ['do-not-query-localhost: no', 'msg-cache-size: 64m', 'rrset-cache-size: 128m', 'so-reuseport: yes', 'forward-zone:', `  name: "fwd.bench."`, `  forward-addr: ${up}`],
    });
    unbounds.push(unbound);

    // dnsmasq: the same records from a hosts file, fwd.bench. forwarded. Single-threaded by design.
    const hosts = join(dir, 'hosts');
    writeFileSync(hosts, Array.from({ length: RECORDS }, (_, i) => `${ipOf(i)} h${i}.bench.test`).join('\n') + '\n');
    const dnsmasqPort = await freePort(IP.dnsmasq);
    const dnsmasq = spawn(
      'dnsmasq',
      [
        '--keep-in-foreground',
        '--conf-file=/dev/null',
        '--no-resolv',
        '--no-hosts',
        '--bind-interfaces',
        `--listen-address=${IP.dnsmasq}`,
        `--port=${dnsmasqPort}`,
        `--addn-hosts=${hosts}`,
        '--local-ttl=300',
        '--cache-size=10000',
        `--server=/fwd.bench/${IP.upstream}#${upstream.port}`,
        `--pid-file=${join(dir, 'dnsmasq.pid')}`,
        '--user=root',
        '--dns-forward-max=1000',
      ],
      { stdio: 'inherit' },
    );
    procs.push(dnsmasq);

    const servers: { server: string; host: string; port: number; pid: number; threads: number; authOnly?: boolean }[] = [
      { server: 'dnssync agent', host: IP.agent, port: agent.port, pid: agent.proc.pid as number, threads: THREADS },
      { server: corednsVersion.replace('-', ' '), host: IP.coredns, port: corednsPort, pid: coredns.pid as number, threads: THREADS },
      ...(baseline === undefined ? [] : [{ server: `dnssync agent, baseline ${baselineCommit ?? ''}`, host: IP.baseline, port: baseline.port, pid: baseline.proc.pid as number, threads: THREADS }]),
      ...(agentNodeDefaults === undefined ? [] : [{ server: 'dnssync agent, Node V8 defaults', host: IP.agentNodeDefaults, port: agentNodeDefaults.port, pid: agentNodeDefaults.proc.pid as number, threads: THREADS }]),
      { server: 'Node dgram floor (no DNS work)', host: IP.floor, port: floorPort, pid: floor.pid as number, threads: 1, authOnly: true },
      { server: 'unbound', host: IP.unbound, port: unbound.port, pid: unbound.proc.pid as number, threads: THREADS },
      { server: 'dnsmasq', host: IP.dnsmasq, port: dnsmasqPort, pid: dnsmasq.pid as number, threads: 1 },
    ];
    for (const s of servers) {
      await waitAnswering(s.host, s.port, 'h1.bench.test');
      // Warm the forwarding caches: every fwd name once.
      if (s.authOnly !== true) await dnsperf(s.host, s.port, fwdQueries, ['-n', '1', '-q', '50']);
    }
    const runs = servers.map(() => ({ authoritative: [] as Run[], forwarded: [] as Run[] }));
    const loadPerRound: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      loadPerRound.push(loadavg()[0] as number);
      for (const [i, s] of servers.entries()) {
        const r = runs[i] as (typeof runs)[number];
        process.stderr.write(`[bench] round ${round}/${ROUNDS} ${s.server}: authoritative${s.authOnly === true ? '' : ', forwarded (cached)'}\n`);
        r.authoritative.push(await measure(s.host, s.port, authQueries));
        if (s.authOnly !== true) r.forwarded.push(await measure(s.host, s.port, fwdQueries));
      }
    }
    const results: ServerResult[] = servers.map((s, i) => ({
      server: s.server,
      threads: s.threads,
      authoritative: combine(runs[i]?.authoritative ?? []),
      forwarded: combine(runs[i]?.forwarded ?? []),
      rssKbAfterLoad: procStatus(s.pid, 'VmRSS'),
    }));
    const loadAfterRounds = loadavg();
    for (const p of procs.splice(0)) await stop(p);
    for (const u of unbounds.splice(1)) await u.stop();

    const memory = await agentMemory(dir, keyFile, unbounds);
    const corednsBig = await corednsMemory(COREDNS, dir, memory.upstreamPort);

    const agentRow = results[0] as ServerResult;
    const corednsRow = results[1] as ServerResult;
    const vs = (peer: ServerResult) => ({
      authQps: agentRow.authoritative.qps / peer.authoritative.qps,
      authP999: agentRow.authoritative.p999Ms / peer.authoritative.p999Ms,
      fwdQps: agentRow.forwarded.qps / peer.forwarded.qps,
      fwdP999: agentRow.forwarded.p999Ms / peer.forwarded.p999Ms,
      rss: agentRow.rssKbAfterLoad / peer.rssKbAfterLoad,
    });
    const agentVsCoredns = vs(corednsRow);
    const out = {
      bench: 'query',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, loadavgAtStart: loadAtStart, loadavg1mPerRound: loadPerRound, loadavgAfterRounds: loadAfterRounds, loadavgAtEnd: loadavg() },
      settings: { seconds: SECONDS, rounds: ROUNDS, roundSeconds: ROUND_SECONDS, threads: THREADS, latencyRateQps: RATE, dnsperfTimeoutS: TIMEOUT_S, records: RECORDS, forwardedNames: FWD_NAMES, coredns: corednsVersion, corefile: corefile(IP.coredns, 53, 9253, 8080, { origin: 'bench.test', file: 'bench.zone' }, 'UPSTREAM') },
      results,
      agentVsCoredns,
      agentVsUnbound: vs(results.find((r) => r.server === 'unbound') as ServerResult),
      ...(baselineCommit === undefined ? {} : { baseline: { tree: BASELINE, commit: baselineCommit }, agentVsBaseline: vs(results.find((r) => r.server.includes('baseline')) as ServerResult) }),
      memory: { ...memory.result, corednsHolding100kRecords: corednsBig },
      targets: {
        authP999AtMostCoredns: agentVsCoredns.authP999 <= 1,
        fwdP999AtMostCoredns: agentVsCoredns.fwdP999 <= 1,
        rssAtMostCoredns: agentVsCoredns.rss <= 1,
        authQpsAtLeast1_5xCoredns: agentVsCoredns.authQps >= 1.5,
        fwdQpsAtLeast1_5xCoredns: agentVsCoredns.fwdQps >= 1.5,
        rssAtMost100MBHolding100kSettled: memory.result.workers1.rssKbSettled <= 100 * 1024,
      },
    };
    mkdirSync('test/bench/results', { recursive: true });
    // The default run is query.json; other thread counts get their own file beside it.
    const file = OUT_FILE ?? (THREADS === 1 ? 'test/bench/results/query.json' : `test/bench/results/query-threads${THREADS}.json`);
    writeFileSync(file, JSON.stringify(out, null, 2) + '\n');

    const f = (x: number, d = 0): string => (Number.isFinite(x) ? x.toFixed(d) : '-');
    const lat = (r: Run): string => `${f(r.p50Ms, 3)} / ${f(r.p99Ms, 3)} / ${f(r.p999Ms, 3)} / ${f(r.maxMs, 1)}`;
    const rows = [
      '| server | threads | auth QPS | auth p50 / p99 / p99.9 / max ms | fwd QPS | fwd p50 / p99 / p99.9 / max ms | RSS MB | lost |',
      '|---|---|---|---|---|---|---|---|',
      ...results.map(
        (r) =>
          `| ${r.server} | ${r.threads} | ${f(r.authoritative.qps)} | ${lat(r.authoritative)} | ${f(r.forwarded.qps)} | ${lat(r.forwarded)} | ${f(r.rssKbAfterLoad / 1024, 1)} | ${r.authoritative.latencyTimedOut + r.forwarded.latencyTimedOut} |`,
      ),
    ];
    process.stdout.write(rows.join('\n') + '\n');
    const a = agentVsCoredns;
    process.stdout.write(`agent vs CoreDNS: auth QPS ${f(a.authQps, 2)}x, p99.9 ${f(a.authP999, 2)}x; fwd QPS ${f(a.fwdQps, 2)}x, p99.9 ${f(a.fwdP999, 2)}x; RSS ${f(a.rss, 2)}x\n`);
    if (out.agentVsBaseline !== undefined) {
      const b = out.agentVsBaseline;
      process.stdout.write(`agent vs baseline ${out.baseline?.commit ?? ''}: auth QPS ${f(b.authQps, 2)}x, p99.9 ${f(b.authP999, 2)}x; fwd QPS ${f(b.fwdQps, 2)}x, p99.9 ${f(b.fwdP999, 2)}x; RSS ${f(b.rss, 2)}x\n`);
    }
    const m = memory.result;
    process.stdout.write(
      `agent as the chart runs it, ${BIG} synced records + ${BIG} forwarded names (each asked twice), RSS right after / ${SETTLE_S} s later: ` +
        `1 worker ${f(m.workers1.rssKb / 1024, 1)} / ${f(m.workers1.rssKbSettled / 1024, 1)} MB, ${m.workers1.upstreamQueries} upstream queries; ` +
        `2 workers ${f(m.workers2.rssKb / 1024, 1)} / ${f(m.workers2.rssKbSettled / 1024, 1)} MB, ${m.workers2.upstreamQueries} upstream queries; idle ${f(m.idle.rssKb / 1024, 1)} MB; ` +
        `CoreDNS with the same ${f(corednsBig.rssKb / 1024, 1)} / ${f(corednsBig.rssKbSettled / 1024, 1)} MB\n`,
    );
    process.stdout.write(`medians of ${ROUNDS} interleaved rounds; latency at ${RATE} queries/s offered (timeouts at ${TIMEOUT_S} s), QPS closed-loop, ${ROUND_SECONDS} s each per round, dnsperf -T ${THREADS}\n`);
  } finally {
    await Promise.all(procs.map(stop));
    for (const u of unbounds) await u.stop();
  }
}

interface Holding {
  /** Right after the last query, and after SETTLE_S idle (V8's memory reducer runs a few seconds after a burst). */
  rssKb: number;
  anonKb: number;
  rssKbSettled: number;
  anonKbSettled: number;
  /** Queries the upstream received while the forwarded names were asked once each. */
  upstreamQueries: number;
  /** From the primary's start to the last record answering. */
  syncMs: number;
}

/**
 * The agent as the chart runs it — upstream, sync port with TSIG, metrics — idle, and
 * holding 100,000 records pushed by `dnssync primary` plus 100,000 forwarded names (every
 * one asked once, so the forwarding and answer caches are full too), with 1 and 2 workers.
 */
async function agentMemory(dir: string, keyFile: string, unbounds: Unbound[]): Promise<{ upstreamPort: number; result: { idle: Holding; workers1: Holding; workers2: Holding } }> {
  const bigZone = join(dir, 'big.test.zone');
  writeFileSync(bigZone, zoneText(BIG, 'big.test'));
  const bigQueries = join(dir, 'big.txt');
  writeFileSync(bigQueries, shuffled(Array.from({ length: BIG }, (_, i) => `h${i}.big.test A`)).join('\n') + '\n');
  const fwdQueries = join(dir, 'fwdbig.txt');
  writeFileSync(fwdQueries, shuffled(Array.from({ length: BIG }, (_, i) => `f${i}.fwdbig.bench A`)).join('\n') + '\n');
  const upstream = await startUnbound({
    host: IP.bigUpstream,
    localZones: ['fwdbig.bench. static'],
    localData: ['fwdbig.bench. 3600 IN SOA ns h 1 3600 600 86400 60', ...Array.from({ length: BIG }, (_, i) => `f${i}.fwdbig.bench. 3600 IN A ${ipOf(i)}`)],
    extra: ['msg-cache-size: 64m', 'rrset-cache-size: 64m'],
  });
  // Stays up for CoreDNS's figure; main() stops every unbound at the end.
  unbounds.push(upstream);
  const run = async (workers: number, load: boolean): Promise<Holding> => {
    const [port, sync, metrics] = (await ports(IP.rss, 3)) as [number, number, number];
    const agent = spawn(
      process.execPath,
      [MAIN, 'agent', '--listen', `${IP.rss}:${port}`, '--upstream', `${IP.bigUpstream}:${upstream.port}`, '--sync-listen', `${IP.rss}:${sync}`, '--tsig-key-file', keyFile, '--metrics-listen', `${IP.rss}:${metrics}`, '--workers', String(workers), '--log-level', 'warn'],
      { stdio: 'inherit' },
    );
    let primary: ChildProcess | undefined;
    try {
      await waitFor(async () => (await fetch(`http://${IP.rss}:${metrics}/healthz`)).ok, { what: 'agent /healthz', timeoutMs: 20_000, intervalMs: 100 });
      let syncMs = 0;
      let upstreamQueries = 0;
      if (load) {
        const transfer = await freePort(IP.primary);
        const start = Date.now();
        primary = spawn(process.execPath, [MAIN, 'primary', '--zone-file', bigZone, '--transfer-listen', `${IP.primary}:${transfer}`, '--notify', `${IP.rss}:${sync}`, '--tsig-key-file', keyFile, '--state-file', join(dir, `primary-${workers}.state`), '--log-level', 'warn'], {
          stdio: 'inherit',
        });
        await waitAnswered(IP.rss, port, 'h99999.big.test', 120_000);
        syncMs = Date.now() - start;
        await dnsperf(IP.rss, port, bigQueries, ['-n', '1', '-q', '100']);
        const before = (await upstream.stats()).get('total.num.queries') ?? 0;
        // Every forwarded name twice, from different client sockets: with several workers
        // the second ask often lands on another worker than the first.
        await dnsperf(IP.rss, port, fwdQueries, ['-n', '2', '-q', '100']);
        upstreamQueries = ((await upstream.stats()).get('total.num.queries') ?? 0) - before;
      }
      const pid = agent.pid as number;
      const rssKb = procStatus(pid, 'VmRSS');
      const anonKb = procStatus(pid, 'RssAnon');
      await new Promise((r) => setTimeout(r, SETTLE_S * 1000));
      return { rssKb, anonKb, rssKbSettled: procStatus(pid, 'VmRSS'), anonKbSettled: procStatus(pid, 'RssAnon'), upstreamQueries, syncMs };
    } finally {
      if (primary !== undefined) await stop(primary);
      await stop(agent);
    }
  };
  process.stderr.write(`[bench] agent memory: idle, then ${BIG} synced records + ${BIG} forwarded names with 1 and 2 workers\n`);
  const idle = await run(1, false);
  const workers1 = await run(1, true);
  const workers2 = await run(2, true);
  return { upstreamPort: upstream.port, result: { idle, workers1, workers2 } };
}

/** CoreDNS with the same node-cache-like Corefile holding the 100,000-record zone and asked the 100,000 forwarded names. */
async function corednsMemory(coredns: string, dir: string, upstreamPort: number): Promise<{ rssKb: number; anonKb: number; rssKbSettled: number }> {
  const [port, metricsPort, healthPort] = (await ports(IP.coredns, 3)) as [number, number, number];
  const conf = join(dir, 'Corefile.big');
  writeFileSync(conf, corefile(IP.coredns, port, metricsPort, healthPort, { origin: 'big.test', file: join(dir, 'big.test.zone') }, `${IP.bigUpstream}:${upstreamPort}`));
  const p = spawn(coredns, ['-conf', conf, '-quiet'], { stdio: ['ignore', 'ignore', 'inherit'], cwd: dir, env: { ...process.env, GOMAXPROCS: String(THREADS) } });
  try {
    await waitAnswered(IP.coredns, port, 'h99999.big.test', 60_000);
    await dnsperf(IP.coredns, port, join(dir, 'big.txt'), ['-n', '1', '-q', '100']);
    await dnsperf(IP.coredns, port, join(dir, 'fwdbig.txt'), ['-n', '2', '-q', '100']);
    const rssKb = procStatus(p.pid as number, 'VmRSS');
    const anonKb = procStatus(p.pid as number, 'RssAnon');
    await new Promise((r) => setTimeout(r, SETTLE_S * 1000));
    return { rssKb, anonKb, rssKbSettled: procStatus(p.pid as number, 'VmRSS') };
  } finally {
    await stop(p);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench query: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
