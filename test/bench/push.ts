/**
 * Push latency: the time from a zone change at the primary to every agent serving it, for 1,
 * 10 and 100 agents, and the changes per second sustained at 100 agents. Beside it, in the
 * same run, BIND as the primary of the same dnssync agents (a signed DNS UPDATE to `named`,
 * which NOTIFYs every agent, which pulls IXFR): the standard NOTIFY-then-pull path.
 *
 * Set-up: the dnssync primary runs in this process; agents (DNS server + sync secondary over
 * one store, as `dnssync agent` wires them) run in 2 child processes (one per core), 100
 * agents on 127.0.31.1–100. An agent reports the instant a change lands in its store (after
 * that instant its DNS server answers the new data); the latency of a change is the latest
 * of those instants minus the instant the change was made. Every measured change is
 * sequential (the next starts when all agents have the last); the throughput phase instead
 * fires changes back to back for a few seconds and counts how fast all agents converge.
 *
 * What each clock includes (the two primaries are driven differently, so they cannot start
 * from the very same event): dnssync's starts at the call to Primary.updateZone in this
 * process (diff, journal append, signing, the NOTIFYs carrying the diff, each agent's apply);
 * BIND's "from UPDATE sent" starts when the signed DNS UPDATE leaves this process (named
 * verifies it, applies it, writes its journal, answers; its NOTIFYs; each agent's IXFR pull
 * over TCP and apply). "From UPDATE answered" starts when named's answer arrives instead: by
 * then its change is committed (journal written), which is the nearest BIND event to the
 * moment updateZone is called, though named may already have sent some NOTIFYs. Both end at
 * the same event: the last agent's store holding the change. p99 is the nearest-rank one:
 * of 200 changes, the 198th fastest (the third-slowest); max is reported beside it.
 *
 *   node dist/test/bench/push.js   → table + test/bench/results/push.json
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { AgentFleet, now, type AgentAddr } from './agent-fleet.js';
import dnsPacket from 'dns-packet';
import { canonicalRR } from '../../src/dns/rdata.js';
import { sign, type TsigKey } from '../../src/dns/tsig.js';
import { configureLogger } from '../../src/observability/logger.js';
import { registry } from '../../src/observability/metrics.js';
import { Primary } from '../../src/sync/primary.js';

const exec = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const KEY: TsigKey = { name: 'bench-key', algorithm: 'hmac-sha256', secret: Buffer.from('YmVuY2gta2V5LWZvci10aGUtcHVzaC1iZW5jaG1hcmsh', 'base64') };
const ZONE = 'push.bench';
const BZONE = 'bindpush.bench';
const PRIMARY_HOST = '127.0.30.250';
const BIND_HOST = '127.0.30.251';
const SIZES = (process.env.PUSH_SIZES ?? '1,10,100').split(',').map(Number);
const WITH_BIND = process.env.PUSH_BIND !== '0';
const CHANGES = Number(process.env.PUSH_CHANGES ?? 200);
const THROUGHPUT_SECONDS = Number(process.env.PUSH_THROUGHPUT_SECONDS ?? 5);
const PUSH_PROCESSES = Number(process.env.PUSH_PROCESSES ?? 2);
/**
 * Changes before the measured ones, for either primary. The agent processes are fresh for each
 * size, and for their first few hundred changes their heaps grow in steps, each a full GC in
 * all 50 agents of a process at once; with 20 warm-up changes those steps land at the same
 * measured changes run after run and make the 100-agent p99 (13-17 ms instead of 9-10).
 * A long-running agent is past them, so the table measures after 300 (PUSH_WARMUP=20: cold).
 */
const WARMUP = Number(process.env.PUSH_WARMUP ?? 300);

/** Agents on 127.0.31.1-n; extra node flags for their processes from PUSH_CHILD_ARGS (profiling). */
function fleetOptions(n: number): { hosts: string[]; key: TsigKey; processes: number; execArgv: string[] } {
  const extra = (process.env.PUSH_CHILD_ARGS ?? '').split(' ').filter((x) => x !== '');
  const execArgv = process.env.PUSH_TRACE_GC ? ['--trace-gc', ...extra] : extra;
  return { hosts: Array.from({ length: n }, (_, i) => `127.0.31.${i + 1}`), key: KEY, processes: PUSH_PROCESSES, execArgv };
}

/** Nearest-rank percentile: the ceil(p/100 x n)-th smallest sample. */
function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

function summary(latencies: number[]): { p50: number; p99: number; max: number; n: number } {
  return { p50: round(pct(latencies, 50)), p99: round(pct(latencies, 99)), max: round(Math.max(...latencies)), n: latencies.length };
}

/** Which sample the p99 is: "the 198th of 200 (3rd-slowest)". */
function p99Rank(n: number): string {
  const rank = Math.ceil(0.99 * n);
  return `the ${rank}th of ${n} (${n - rank + 1}${n - rank + 1 === 1 ? 'st' : n - rank + 1 === 2 ? 'nd' : n - rank + 1 === 3 ? 'rd' : 'th'}-slowest)`;
}

async function addLoopback(ip: string): Promise<void> {
  try {
    await exec('ip', ['addr', 'add', `${ip}/32`, 'dev', 'lo']);
  } catch {
    /* exists */
  }
}

/** Checks through the DNS servers of a few agents that the last name is answered. */
async function verifyAnswer(agents: AgentAddr[], name: string, ip: string): Promise<void> {
  const sample = [agents[0], agents[Math.floor(agents.length / 2)], agents[agents.length - 1]].filter((a): a is AgentAddr => a !== undefined);
  for (const a of sample) {
    const got = await udpAsk(a.host, a.dnsPort, dnsPacket.encode({ type: 'query', id: 7, questions: [{ type: 'A', name, class: 'IN' }] }));
    const p = dnsPacket.decode(got);
    const answers = (p.answers ?? []).map((x) => String((x as { data?: unknown }).data));
    if (!answers.includes(ip)) throw new Error(`agent ${a.host} does not answer ${name} A ${ip}: ${JSON.stringify(answers)}`);
  }
}

function udpAsk(host: string, port: number, msg: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      reject(new Error(`no answer from ${host}:${port}`));
    }, 3000);
    s.on('message', (r) => {
      clearTimeout(t);
      s.close();
      resolve(r);
    });
    s.send(msg, port, host);
  });
}

// ---------------------------------------------------------------------------------------------

interface PushRow {
  agents: number;
  changes: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** BIND only: the same changes timed from named's UPDATE answer (change committed). */
  fromAnswered?: { p50Ms: number; p99Ms: number; maxMs: number };
  /** BIND only: the UPDATE round trip itself. */
  updateRttMs?: { p50: number; p99: number };
}

async function dnssyncRun(primary: Primary, n: number): Promise<{ row: PushRow; throughput?: { changes: number; seconds: number; perSecond: number } }> {
  const fleet = await AgentFleet.start(fleetOptions(n));
  try {
    // Alternate between the two agent processes, so both start working on a change at once
    // (on real nodes every agent has its own CPU; here 50 share one).
    const order = [...fleet.agents].sort((x, y) => Number(x.host.split('.')[3]) - Number(y.host.split('.')[3]));
    primary.setAgents(order.map((a) => ({ id: a.host, host: a.host, port: a.syncPort })));
    // Cold start (AXFR) for every agent, then warm up the JIT on both sides.
    await fleet.allAt(ZONE, primary.zone(ZONE)?.serial as number);
    let k = 0;
    const change = (): number => {
      k++;
      return primary.updateZone(ZONE, { deleted: [], added: [canonicalRR({ name: `c${n}-${k}.${ZONE}`, type: 'A', ttl: 30, data: `10.9.${(k >> 8) & 255}.${k & 255}` })] });
    };
    for (let i = 0; i < WARMUP; i++) await fleet.allAt(ZONE, change());
    const lat: number[] = [];
    const spread: [number, number][] = [];
    for (let i = 0; i < CHANGES; i++) {
      const t0 = now();
      const serial = change();
      const times = await fleet.allAt(ZONE, serial);
      lat.push(Math.max(...times) - t0);
      if (process.env.PUSH_DEBUG) spread.push([Math.min(...times) - t0, pct(times, 50) - t0]);
    }
    await verifyAnswer(fleet.agents, `c${n}-${k}.${ZONE}`, `10.9.${(k >> 8) & 255}.${k & 255}`);
    if (process.env.PUSH_DEBUG) process.stderr.write(`slowest changes (index:first/median/last agent ms): ${lat.map((x, i) => [i, x] as const).sort((p, q) => q[1] - p[1]).slice(0, 12).map(([i, x]) => `${i}:${spread[i]?.[0].toFixed(1)}/${spread[i]?.[1].toFixed(1)}/${x.toFixed(1)}`).join(' ')}\n`);
    const s = summary(lat);
    const row = { agents: n, changes: CHANGES, p50Ms: s.p50, p99Ms: s.p99, maxMs: s.max };

    if (n !== 100 || THROUGHPUT_SECONDS <= 0) return { row };
    // Throughput: changes back to back, yielding to I/O between them, for a few seconds.
    const start = now();
    let issued = 0;
    let last = 0;
    while (now() - start < THROUGHPUT_SECONDS * 1000) {
      last = change();
      issued++;
      await new Promise((r) => setImmediate(r));
    }
    await fleet.allAt(ZONE, last, 60_000);
    const seconds = (now() - start) / 1000;
    await verifyAnswer(fleet.agents, `c${n}-${k}.${ZONE}`, `10.9.${(k >> 8) & 255}.${k & 255}`);
    return { row, throughput: { changes: issued, seconds: round(seconds), perSecond: Math.round(issued / seconds) } };
  } finally {
    primary.setAgents([]);
    await fleet.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// BIND as the primary: UPDATE → NOTIFY → agents pull IXFR.

async function startNamed(port: number, agents: AgentAddr[]): Promise<{ proc: ChildProcess; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'dnssync-bench-named-'));
  writeFileSync(join(dir, `${BZONE}.zone`), `$TTL 30\n@ IN SOA ns.${BZONE}. hostmaster.${BZONE}. 1 60 10 3600 5\n@ NS ns.${BZONE}.\nns A 192.0.2.53\n`);
  const notify = agents.map((a) => `${a.host} port ${a.syncPort} key "${KEY.name}";`).join(' ');
  writeFileSync(
    join(dir, 'named.conf'),
    `key "${KEY.name}" { algorithm ${KEY.algorithm}; secret "${KEY.secret.toString('base64')}"; };
options { directory "${dir}"; pid-file "${dir}/pid"; session-keyfile "${dir}/s.key"; listen-on port ${port} { ${BIND_HOST}; }; listen-on-v6 { none; };
  recursion no; dnssec-validation no; notify-delay 0; notify-rate 100000; startup-notify-rate 100000; notify-source ${BIND_HOST}; transfers-out 1000; tcp-clients 1000; tcp-listen-queue 1000; };
controls { };
zone "${BZONE}" { type primary; file "${BZONE}.zone"; allow-update { key "${KEY.name}"; }; allow-transfer { key "${KEY.name}"; }; notify explicit; also-notify { ${notify} }; };
`,
  );
  const proc = spawn('named', ['-g', '-c', join(dir, 'named.conf'), '-n', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  const deadline = Date.now() + 20_000;
  while (!out.includes('running')) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`named did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    proc,
    stop: async () => {
      if (proc.exitCode === null) {
        const done = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await done;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function freePort(host: string): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, host, () => r()));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

async function bindRun(n: number): Promise<PushRow> {
  const port = await freePort(BIND_HOST);
  // Agents first (named needs their ports for also-notify); they retry the initial pull until named is up.
  const fleet = await AgentFleet.start({ ...fleetOptions(n), statics: [{ origin: BZONE, primary: { host: BIND_HOST, port } }] });
  const named = await startNamed(port, fleet.agents);
  try {
    let serial = 1;
    await fleet.allAt(BZONE, serial, 60_000);
    let k = 0;
    let answeredAt = 0;
    const update = async (): Promise<number> => {
      k++;
      const msg = dnsPacket.encode({
        type: 'query',
        id: k & 0xffff,
        flags: 5 << 11,
        questions: [{ type: 'SOA', name: BZONE, class: 'IN' }],
        authorities: [{ type: 'A', name: `u${k}.${BZONE}`, ttl: 30, class: 'IN', data: `10.8.${(k >> 8) & 255}.${k & 255}` }],
      });
      const r = await udpAsk(BIND_HOST, port, sign(msg, KEY).wire);
      answeredAt = now();
      const rcode = (r.readUInt16BE(2) & 0xf) as number;
      if (rcode !== 0) throw new Error(`UPDATE refused: rcode ${rcode}`);
      return ++serial; // BIND increments the serial by one per update
    };
    for (let i = 0; i < WARMUP; i++) await fleet.allAt(BZONE, await update());
    const lat: number[] = [];
    const fromAnswered: number[] = [];
    const rtt: number[] = [];
    const changes = CHANGES;
    for (let i = 0; i < changes; i++) {
      const t0 = now();
      const s = await update();
      const times = await fleet.allAt(BZONE, s);
      lat.push(Math.max(...times) - t0);
      fromAnswered.push(Math.max(...times) - answeredAt);
      rtt.push(answeredAt - t0);
      if (process.env.PUSH_DEBUG && i < 3) process.stderr.write(`BIND change ${i}: per-agent ms ${times.map((x) => Math.round(x - t0)).sort((x, y) => x - y).join(' ')}\n`);
    }
    await verifyAnswer(fleet.agents, `u${k}.${BZONE}`, `10.8.${(k >> 8) & 255}.${k & 255}`);
    const s = summary(lat);
    const a = summary(fromAnswered);
    const u = summary(rtt);
    return { agents: n, changes, p50Ms: s.p50, p99Ms: s.p99, maxMs: s.max, fromAnswered: { p50Ms: a.p50, p99Ms: a.p99, maxMs: a.max }, updateRttMs: { p50: u.p50, p99: u.p99 } };
  } finally {
    await fleet.stop();
    await named.stop();
  }
}

async function main(): Promise<void> {
  const load0 = loadavg().map((x) => Math.round(x * 10) / 10);
  configureLogger('warn');
  await addLoopback(BIND_HOST);
  await addLoopback(PRIMARY_HOST);
  const primary = await Primary.start({ host: PRIMARY_HOST, port: 0, keys: [KEY] });
  primary.setZone(ZONE, [canonicalRR({ name: `ns.${ZONE}`, type: 'A', ttl: 30, data: '192.0.2.53' })]);
  const dnssyncRows: PushRow[] = [];
  const bindRows: PushRow[] = [];
  let throughput: { changes: number; seconds: number; perSecond: number } | undefined;
  for (const n of SIZES) {
    if (process.env.PUSH_DNSSYNC !== '0') {
      const r = await dnssyncRun(primary, n);
      dnssyncRows.push(r.row);
      if (r.throughput) throughput = r.throughput;
      process.stderr.write(`dnssync ${n} agents: p50 ${r.row.p50Ms} ms p99 ${r.row.p99Ms} ms\n`);
    }
    let b: PushRow | undefined;
    if (WITH_BIND) try {
      b = await bindRun(n);
      bindRows.push(b);
      process.stderr.write(`BIND    ${n} agents: p50 ${b.p50Ms} ms p99 ${b.p99Ms} ms\n`);
    } catch (err) {
      process.stderr.write(`BIND run with ${n} agents failed: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
  await primary.close();
  if (process.env.PUSH_DEBUG) process.stderr.write((await registry.metrics()).split('\n').filter((l) => l.startsWith('dnssync_sync')).join('\n') + '\n');

  const rows = dnssyncRows.map((d) => {
    const b = bindRows.find((x) => x.agents === d.agents);
    return { agents: d.agents, changes: d.changes, dnssync: d, bind: b, p99RatioBindOverDnssync: b ? round(b.p99Ms / d.p99Ms) : undefined };
  });
  const result = {
    bench: 'push',
    date: new Date().toISOString(),
    // 1/5/15-minute load averages at the start and the end: the machine is shared.
    loadavg: { start: load0, end: loadavg().map((x) => Math.round(x * 10) / 10) },
    clocks: {
      dnssync: 'Primary.updateZone called in this process -> the last agent store holds the change (diff, journal, signed NOTIFY with the diff, apply)',
      bindFromUpdateSent: 'signed UPDATE sent to named -> the last agent store holds the change (UPDATE verify + apply + journal write + answer, NOTIFY, IXFR pull over TCP, apply)',
      bindFromUpdateAnswered: "named's UPDATE answer received (change committed) -> the last agent store holds the change",
    },
    p99: `nearest rank: ${p99Rank(CHANGES)}`,
    warmupChanges: WARMUP,
    setup: 'dnssync primary in the bench process; agents (DNS server + sync secondary, as dnssync agent) in 2 child processes on 127.0.31.x; BIND named 9.18 as the alternative primary of the same agents (signed UPDATE, NOTIFY, IXFR pull)',
    latencyMs: rows,
    throughputAt100Agents: throughput,
    targetP99At100AgentsMs: 10,
  };
  const out = join(here, '..', '..', '..', 'test', 'bench', 'results', 'push.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');

  const line = (cells: (string | number | undefined)[]): string => '| ' + cells.map((c) => String(c ?? '–')).join(' | ') + ' |';
  console.log(line(['agents', 'changes', 'dnssync p50 / p99 / max ms', 'BIND from UPDATE sent p50 / p99 / max ms', 'BIND from UPDATE answered p50 / p99 / max ms', 'UPDATE RTT p50 / p99 ms', 'p99 ratio BIND (sent)/dnssync']));
  console.log(line(['---', '---', '---', '---', '---', '---', '---']));
  const trio = (a: number | undefined, b: number | undefined, c: number | undefined): string => (a === undefined ? '–' : `${a} / ${b} / ${c}`);
  for (const r of rows) console.log(line([r.agents, r.changes, trio(r.dnssync.p50Ms, r.dnssync.p99Ms, r.dnssync.maxMs), trio(r.bind?.p50Ms, r.bind?.p99Ms, r.bind?.maxMs), trio(r.bind?.fromAnswered?.p50Ms, r.bind?.fromAnswered?.p99Ms, r.bind?.fromAnswered?.maxMs), r.bind?.updateRttMs ? `${r.bind.updateRttMs.p50} / ${r.bind.updateRttMs.p99}` : '–', r.p99RatioBindOverDnssync]));
  console.log(`\np99: ${p99Rank(CHANGES)}; load average (1/5/15 min) at start ${load0.join(' ')}, end ${result.loadavg.end.join(' ')}`);
  if (throughput) console.log(`\nsustained at 100 agents: ${throughput.perSecond} changes/s (${throughput.changes} changes in ${throughput.seconds} s until every agent had the last)`);
  console.log(`\nwritten to ${out}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`push bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
