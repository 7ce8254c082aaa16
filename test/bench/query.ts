/**
 * Benchmark 2 (DESIGN.md): query throughput and latency with dnsperf — the dnssync agent
 * against unbound and dnsmasq serving the same 10,000-record zone, on this machine, with the
 * same number of server threads, in one run. Two workloads: authoritative hits (the zone)
 * and cached forwarded names (each server forwards fwd.bench. to one upstream unbound and
 * is warmed first). Also the agent's RSS idle and holding 100,000 records.
 *
 * QPS comes from a closed-loop dnsperf run (-q outstanding queries, as fast as answered);
 * p50/p99 latency from a second run at a fixed offered rate (the same for every server),
 * with dnsperf -v printing each query's latency.
 *
 *   node dist/test/bench/query.js [--seconds 8] [--threads 1] [--rate 20000] [--rounds 3]
 *   (make bench-query passes --seconds 15 --rounds 5)
 *
 * On a small shared machine one run is at the mercy of whatever else is scheduled in those
 * seconds (single runs have shown unbound's own p99 anywhere from 0.2 to 7 ms), so the
 * servers are measured in --rounds interleaved rounds (agent, unbound, dnsmasq, agent, ...)
 * of --seconds/rounds each, and each number reported is the median over the rounds; the
 * per-round QPS and p99 are kept in the JSON.
 *
 * Two more rows put the agent's figures in context: the agent with Node's own V8 heap
 * settings (DNSSYNC_V8_DEFAULTS=0: lower tail latency, more memory), and the floor of Node's
 * UDP path — a server that does no DNS work (dgram-floor.ts), run with the agent's V8 flags,
 * authoritative workload only. No Node program can answer faster than that floor.
 *
 * --threads sets the agent's --workers, unbound's num-threads and dnsperf's -T; dnsmasq and
 * the floor are single-threaded.
 *
 * Writes test/bench/results/query.json (query-threadsN.json for --threads N > 1) and prints
 * a table.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureLoopback, freePort, rawQuery, udpExchange } from '../agent/helpers.js';
import { startUnbound, type Unbound } from '../agent/unbound.js';
import { AGENT_V8_FLAGS, envDefaults } from '../../src/agent/v8-defaults.js';
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
/** Seconds of each closed-loop and each fixed-rate run in one round. */
const ROUND_SECONDS = Math.max(2, Math.round(SECONDS / ROUNDS));
const RECORDS = 10_000;
const FWD_NAMES = 1_000;
const RSS_RECORDS = 100_000;

const IP = { agent: '127.0.11.1', unbound: '127.0.11.2', dnsmasq: '127.0.11.3', upstream: '127.0.11.4', rss: '127.0.11.5', agentNodeDefaults: '127.0.11.6', floor: '127.0.11.7' };
const MAIN = 'dist/src/cli/main.js';
const FLOOR = 'dist/test/bench/dgram-floor.js';

interface Run {
  qps: number;
  avgMs: number;
  p50Ms: number;
  p99Ms: number;
  lost: number;
  rcodes: string;
  /** One entry per round; the fields above are their medians (lost: the sum). */
  rounds?: { qps: number[]; p99Ms: number[] };
}

interface ServerResult {
  server: string;
  threads: number;
  authoritative: Run;
  forwarded: Run;
}

function zoneText(n: number, origin: string): string {
  const lines = [`$ORIGIN ${origin}.`, '$TTL 300', '@ IN SOA ns hostmaster 1 3600 600 86400 60', '@ IN NS ns', 'ns IN A 10.255.0.1'];
  for (let i = 0; i < n; i++) lines.push(`h${i} IN A 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
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
  const { stdout } = await exec('dnsperf', ['-s', host, '-p', String(port), '-d', file, '-T', String(THREADS), '-c', String(Math.max(THREADS, 4)), ...extra], {
    maxBuffer: 1024 * 1024 * 1024,
  });
  return stdout;
}

function num(out: string, re: RegExp): number {
  const m = re.exec(out);
  return m ? Number(m[1]) : NaN;
}

async function measure(host: string, port: number, file: string): Promise<Run> {
  const closed = await dnsperf(host, port, file, ['-l', String(ROUND_SECONDS), '-q', '200']);
  // Latency at a fixed offered rate, every query's time from -v.
  const verbose = await dnsperf(host, port, file, ['-l', String(Math.min(ROUND_SECONDS, 5)), '-q', '200', '-Q', String(RATE), '-v']);
  const lat: number[] = [];
  for (const line of verbose.split('\n')) {
    if (!line.startsWith('> ')) continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(v)) lat.push(v * 1000);
  }
  lat.sort((a, b) => a - b);
  const pct = (p: number): number => (lat.length === 0 ? NaN : (lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] as number));
  return {
    qps: Math.round(num(closed, /Queries per second:\s+([\d.]+)/)),
    avgMs: num(closed, /Average Latency \(s\):\s+([\d.]+)/) * 1000,
    p50Ms: pct(50),
    p99Ms: pct(99),
    lost: num(closed, /Queries lost:\s+(\d+)/),
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
  return {
    qps: Math.round(median(runs.map((r) => r.qps))),
    avgMs: median(runs.map((r) => r.avgMs)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    lost: runs.reduce((n, r) => n + r.lost, 0),
    rcodes: runs[runs.length - 1]?.rcodes ?? '',
    rounds: { qps: runs.map((r) => r.qps), p99Ms: runs.map((r) => r.p99Ms) },
  };
}

async function waitAnswering(host: string, port: number, name: string): Promise<void> {
  await waitFor(async () => (await udpExchange(host, port, rawQuery(name, 1), 300)) !== undefined, { what: `${host}:${port} answering`, timeoutMs: 20_000 });
}

function rssKb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

/** RSS without file-backed pages: what the process allocated, not the node binary's code it touched. */
function anonRssKb(pid: number): number {
  return Number(/RssAnon:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    p.once('exit', () => resolve());
    p.kill('SIGTERM');
  });
}

async function main(): Promise<void> {
  for (const ip of Object.values(IP)) await ensureLoopback(ip);
  const dir = await mkdtemp(join(tmpdir(), 'dnssync-bench-'));
  const zoneFile = join(dir, 'bench.zone');
  writeFileSync(zoneFile, zoneText(RECORDS, 'bench.test'));
  const authQueries = join(dir, 'auth.txt');
  writeFileSync(authQueries, shuffled(Array.from({ length: RECORDS }, (_, i) => `h${i}.bench.test A`)).join('\n') + '\n');
  const fwdQueries = join(dir, 'fwd.txt');
  writeFileSync(fwdQueries, shuffled(Array.from({ length: FWD_NAMES }, (_, i) => `f${i}.fwd.bench A`)).join('\n') + '\n');

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

    // The agent, as it starts by default (its own lean V8 heap settings, v8-defaults.ts), and
    // a second one with Node's V8 defaults (DNSSYNC_V8_DEFAULTS=0): the memory/tail trade.
    const startAgent = async (ip: string, env: Record<string, string>): Promise<{ port: number; proc: ChildProcess }> => {
      const port = await freePort(ip);
      const proc = spawn(process.execPath, [MAIN, 'agent', '--listen', `${ip}:${port}`, '--zone-file', zoneFile, '--upstream', `${IP.upstream}:${upstream.port}`, '--workers', String(THREADS), '--log-level', 'warn'], {
        stdio: 'inherit',
        env: { ...process.env, ...env },
      });
      procs.push(proc);
      return { port, proc };
    };
    const { port: agentPort, proc: agent } = await startAgent(IP.agent, {});
    const { port: agentNodeDefaultsPort } = await startAgent(IP.agentNodeDefaults, { DNSSYNC_V8_DEFAULTS: '0' });

    // The floor: Node's UDP path with no DNS work, under the agent's V8 settings.
    const floorPort = await freePort(IP.floor);
    const floor = spawn(process.execPath, [...AGENT_V8_FLAGS, FLOOR, IP.floor, String(floorPort)], { stdio: 'inherit', env: { ...process.env, ...envDefaults(process.env) } });
    procs.push(floor);

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

    const servers: { server: string; host: string; port: number; threads: number; authOnly?: boolean }[] = [
      { server: 'dnssync agent', host: IP.agent, port: agentPort, threads: THREADS },
      { server: 'dnssync agent, Node V8 defaults', host: IP.agentNodeDefaults, port: agentNodeDefaultsPort, threads: THREADS },
      { server: 'Node dgram floor (no DNS work)', host: IP.floor, port: floorPort, threads: 1, authOnly: true },
      { server: 'unbound', host: IP.unbound, port: unbound.port, threads: THREADS },
      { server: 'dnsmasq', host: IP.dnsmasq, port: dnsmasqPort, threads: 1 },
    ];
    for (const s of servers) {
      await waitAnswering(s.host, s.port, 'h1.bench.test');
      // Warm the forwarding caches: every fwd name once.
      if (s.authOnly !== true) await dnsperf(s.host, s.port, fwdQueries, ['-n', '1', '-q', '50']);
    }
    const runs = servers.map(() => ({ authoritative: [] as Run[], forwarded: [] as Run[] }));
    for (let round = 1; round <= ROUNDS; round++) {
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
    }));
    const agentRss10k = rssKb(agent.pid as number);

    // Agent memory: idle (no zone), and holding 100,000 records with every name queried once
    // (answer cache full too). As started by default — `dnssync agent` applies its own V8
    // heap settings (src/agent/v8-defaults.ts) — and with Node's defaults
    // (DNSSYNC_V8_DEFAULTS=0), for comparison.
    const bigZone = join(dir, 'big.zone');
    writeFileSync(bigZone, zoneText(RSS_RECORDS, 'big.test'));
    const bigQueries = join(dir, 'big.txt');
    writeFileSync(bigQueries, shuffled(Array.from({ length: RSS_RECORDS }, (_, i) => `h${i}.big.test A`)).join('\n') + '\n');
    const memory = async (env: Record<string, string>, zone: boolean): Promise<{ rssKb: number; anonKb: number; loadMs: number }> => {
      const rssPort = await freePort(IP.rss);
      const big = spawn(process.execPath, [MAIN, 'agent', '--listen', `${IP.rss}:${rssPort}`, ...(zone ? ['--zone-file', bigZone] : []), '--log-level', 'warn'], {
        stdio: 'inherit',
        env: { ...process.env, ...env },
      });
      procs.push(big);
      const loadStart = Date.now();
      if (zone) {
        await waitAnswering(IP.rss, rssPort, 'h99999.big.test');
      } else {
        await waitFor(async () => (await udpExchange(IP.rss, rssPort, rawQuery('h1.big.test', 1), 300)) !== undefined, { what: 'idle agent answering', timeoutMs: 20_000 });
      }
      const loadMs = Date.now() - loadStart;
      // Touch every name once so the answer cache is full too.
      if (zone) await dnsperf(IP.rss, rssPort, bigQueries, ['-n', '1', '-q', '100']);
      const rss = rssKb(big.pid as number);
      const anonKb = anonRssKb(big.pid as number);
      await stop(big);
      return { rssKb: rss, anonKb, loadMs };
    };
    const memIdle = await memory({}, false);
    const mem100k = await memory({}, true);
    const mem100kNodeDefaults = await memory({ DNSSYNC_V8_DEFAULTS: '0' }, true);
    const agentRss100k = mem100k.rssKb;
    const loadMs = mem100k.loadMs;

    const unboundRow = results.find((r) => r.server === 'unbound') as ServerResult;
    const ratios = results.map((r) => ({
      server: r.server,
      authQpsVsUnbound: r.authoritative.qps / unboundRow.authoritative.qps,
      authP99VsUnbound: r.authoritative.p99Ms / unboundRow.authoritative.p99Ms,
      fwdQpsVsUnbound: r.forwarded.qps / unboundRow.forwarded.qps,
      fwdP99VsUnbound: r.forwarded.p99Ms / unboundRow.forwarded.p99Ms,
    }));
    const out = {
      bench: 'query',
      date: new Date().toISOString(),
      machine: { cpus: (await import('node:os')).cpus().length, loadavgAtEnd: (await import('node:os')).loadavg() },
      settings: { seconds: SECONDS, rounds: ROUNDS, roundSeconds: ROUND_SECONDS, threads: THREADS, latencyRateQps: RATE, records: RECORDS, forwardedNames: FWD_NAMES },
      results,
      ratios,
      agentMemory: {
        rssKbIdle: memIdle.rssKb,
        rssKb10kRecords: agentRss10k,
        rssKb100kRecords: agentRss100k,
        load100kMs: loadMs,
        rssKb100kRecordsNodeDefaults: mem100kNodeDefaults.rssKb,
        // The rest of VmRSS is file-backed: pages of the node binary's code and data this
        // process touched (~35 MB for a bare `node -e`), shared with every node process.
        anonRssKbIdle: memIdle.anonKb,
        anonRssKb100kRecords: mem100k.anonKb,
        anonRssKb100kRecordsNodeDefaults: mem100kNodeDefaults.anonKb,
      },
      targets: {
        authQpsAtLeastUnbound: (ratios[0]?.authQpsVsUnbound ?? 0) >= 1,
        authP99AtMost2xUnbound: (ratios[0]?.authP99VsUnbound ?? Infinity) <= 2,
        rssAtMost100MB: agentRss100k <= 100 * 1024,
      },
    };
    mkdirSync('test/bench/results', { recursive: true });
    // The default run is query.json; other thread counts get their own file beside it.
    const file = THREADS === 1 ? 'test/bench/results/query.json' : `test/bench/results/query-threads${THREADS}.json`;
    writeFileSync(file, JSON.stringify(out, null, 2) + '\n');

    const f = (x: number, d = 0): string => (Number.isFinite(x) ? x.toFixed(d) : '-');
    const rows = [
      '| server | threads | auth QPS | auth p50 ms | auth p99 ms | fwd QPS | fwd p50 ms | fwd p99 ms | auth QPS vs unbound | auth p99 vs unbound |',
      '|---|---|---|---|---|---|---|---|---|---|',
      ...results.map(
        (r, i) =>
          `| ${r.server} | ${r.threads} | ${f(r.authoritative.qps)} | ${f(r.authoritative.p50Ms, 3)} | ${f(r.authoritative.p99Ms, 3)} | ${f(r.forwarded.qps)} | ${f(r.forwarded.p50Ms, 3)} | ${f(r.forwarded.p99Ms, 3)} | ${f(ratios[i]?.authQpsVsUnbound ?? NaN, 2)}× | ${f(ratios[i]?.authP99VsUnbound ?? NaN, 2)}× |`,
      ),
    ];
    process.stdout.write(rows.join('\n') + '\n');
    process.stdout.write(
      `agent RSS: ${f(memIdle.rssKb / 1024, 1)} MB idle; ${f(agentRss10k / 1024, 1)} MB with ${RECORDS} records after the runs; ${f(agentRss100k / 1024, 1)} MB with ${RSS_RECORDS} records (loaded in ${loadMs} ms, every name queried once), ` +
        `${f(mem100kNodeDefaults.rssKb / 1024, 1)} MB with Node's V8 defaults (DNSSYNC_V8_DEFAULTS=0); ` +
        `anonymous RSS ${f(memIdle.anonKb / 1024, 1)} / ${f(mem100k.anonKb / 1024, 1)} / ${f(mem100kNodeDefaults.anonKb / 1024, 1)} MB\n`,
    );
    process.stdout.write(
      `medians of ${ROUNDS} interleaved rounds; latency percentiles at ${RATE} queries/s offered, QPS closed-loop, ${ROUND_SECONDS} s each per round, dnsperf -T ${THREADS}\n`,
    );
  } finally {
    await Promise.all(procs.map(stop));
    for (const u of unbounds) await u.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench query: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
