/**
 * `dnssync agent` as a process: flags and their DNSSYNC_* variables, one-line errors with
 * exit code 2, /metrics /healthz /readyz, and SIGTERM draining in-flight queries before
 * exiting 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { requireCurrentDist } from '../util/dist.js';
import { waitFor } from '../util/wait.js';
import { freePort, kdig, rawQuery, udpExchange, writeZone } from './helpers.js';
import { startUnbound } from './unbound.js';

const HOST = '127.0.10.4';
const MAIN = 'dist/src/cli/main.js';

interface Run {
  readonly proc: ChildProcess;
  out: string;
  err: string;
  readonly exited: Promise<number | null>;
}

const running: ChildProcess[] = [];

function agent(args: string[], env: Record<string, string> = {}): Run {
  requireCurrentDist();
  const proc = spawn(process.execPath, [MAIN, 'agent', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(proc);
  const run: Run = {
    proc,
    out: '',
    err: '',
    exited: new Promise((resolve) => proc.on('exit', (code) => resolve(code))),
  };
  proc.stdout?.on('data', (c: Buffer) => (run.out += c.toString()));
  proc.stderr?.on('data', (c: Buffer) => (run.err += c.toString()));
  return run;
}

afterEach(() => {
  for (const p of running.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

const ZONE = `$ORIGIN cli.test.
@ 60 IN SOA ns h 42 3600 600 86400 30
@ 60 IN NS ns
ns 60 IN A 10.0.0.1
www 60 IN A 10.0.0.9
`;

describe('dnssync agent flags', () => {
  it.each([
    [['--bogus'], /^dnssync agent: --bogus: unknown flag\n$/],
    [['--listen', 'nonsense'], /^dnssync agent: --listen: 'nonsense' is not HOST:PORT\n$/],
    [['--upstream', 'dns.google:53'], /^dnssync agent: --upstream: 'dns.google:53': host must be an IP address\n$/],
    [['--max-udp-size', '100'], /^dnssync agent: --max-udp-size: '100' must be an integer in 512\.\.4096\n$/],
    // Past 2^31 bytes the cache's 32-bit offsets wrapped (accepted up to 2^40 before).
    [['--cache-max-bytes', String(3 * 2 ** 30)], /^dnssync agent: --cache-max-bytes: '3221225472' must be an integer in 4096\.\.1073741824\n$/],
    [['--zone-file', '/nonexistent/zone.db', '--listen', `${HOST}:0`], /^dnssync agent: --zone-file: .*nonexistent.*\n$/],
  ])('%j → one line on stderr, exit 2', async (args, message) => {
    const r = agent(args);
    expect(await r.exited).toBe(2);
    expect(r.err).toMatch(message);
  });

  it('a bad zone file names the file and line', async () => {
    const bad = await writeZone('$ORIGIN bad.test.\n@ 60 IN SOA ns h 1 2 3 4 5\nwww 60 IN A 999.1.1.1\n');
    const r = agent(['--listen', `${HOST}:0`, '--zone-file', bad]);
    expect(await r.exited).toBe(2);
    expect(r.err).toMatch(new RegExp(`^dnssync agent: --zone-file: ${bad}:3: .+\\n$`));
  });

  it('reads flags from DNSSYNC_* variables, bad ones named with their flag', async () => {
    const r = agent([], { DNSSYNC_LISTEN: 'x' });
    expect(await r.exited).toBe(2);
    expect(r.err).toBe("dnssync agent: DNSSYNC_LISTEN (--listen): 'x' is not HOST:PORT\n");
  });
});

describe('dnssync agent process', () => {
  it.each([1, 2])('with %i worker(s), answers from its zone files from its very first answer (never REFUSED while loading)', async (workers) => {
    const zone = await writeZone(ZONE);
    const dnsPort = await freePort(HOST);
    agent(['--zone-file', zone, '--listen', `${HOST}:${dnsPort}`, '--workers', String(workers), '--log-level', 'warn']);
    // The first datagram that gets any answer at all.
    let first: Buffer | undefined;
    await waitFor(async () => (first = await udpExchange(HOST, dnsPort, rawQuery('www.cli.test', 1), 200)) !== undefined, { what: 'first answer', timeoutMs: 10_000 });
    const answer = first as Buffer;
    expect(answer[3]! & 0x0f).toBe(0); // NOERROR, not REFUSED
    expect(answer.readUInt16BE(6)).toBe(1); // one A record
  });

  it('serves a zone file, /metrics /healthz /readyz, then drains on SIGTERM and exits 0', async () => {
    const zone = await writeZone(ZONE);
    const upstream = await startUnbound({
      host: '127.0.10.55',
      localZones: ['slow.test. static'],
      localData: ['slow.test. 60 IN SOA ns h 1 2 3 4 5', 'a.slow.test. 60 IN A 192.0.2.77'],
    });
    try {
      const dnsPort = await freePort(HOST);
      const metricsPort = await freePort(HOST);
      const r = agent(['--zone-file', zone, '--log-level', 'info'], {
        DNSSYNC_LISTEN: `${HOST}:${dnsPort}`,
        DNSSYNC_METRICS_LISTEN: `${HOST}:${metricsPort}`,
        DNSSYNC_UPSTREAM: `${upstream.host}:${upstream.port}`,
      });
      const base = `http://${HOST}:${metricsPort}`;
      await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, { what: 'readyz 200', timeoutMs: 10_000 });
      expect((await fetch(`${base}/healthz`)).status).toBe(200);

      const a = await kdig(HOST, dnsPort, ['www.cli.test', 'A']);
      expect(a.answerRRs?.[0]?.['rdataA']).toBe('10.0.0.9');
      const f = await kdig(HOST, dnsPort, ['a.slow.test', 'A']);
      expect(f.answerRRs?.[0]?.['rdataA']).toBe('192.0.2.77');
      await kdig(HOST, dnsPort, ['a.slow.test', 'A']);
      await kdig(HOST, dnsPort, ['nope.cli.test', 'A']);

      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/dnssync_agent_queries_total\{source="authoritative",rcode="NOERROR"\} 1/);
      expect(metrics).toMatch(/dnssync_agent_queries_total\{source="authoritative",rcode="NXDOMAIN"\} 1/);
      expect(metrics).toMatch(/dnssync_agent_queries_total\{source="upstream",rcode="NOERROR"\} 1/);
      expect(metrics).toMatch(/dnssync_agent_queries_total\{source="cache",rcode="NOERROR"\} 1/);
      expect(metrics).toMatch(/dnssync_agent_cache_entries 1/);
      expect(metrics).toMatch(/dnssync_agent_cache_hits_total 1/);
      expect(metrics).toMatch(/dnssync_agent_upstream_duration_seconds_count\{upstream="127\.0\.10\.55:\d+",transport="udp"\} 1/);
      expect(metrics).toMatch(/dnssync_agent_zone_serial\{zone="cli.test"\} 42/);
      expect(r.out).toContain('"msg":"zone file loaded"');

      // A forwarded query in flight when SIGTERM arrives still gets its answer: stop the
      // upstream so the query hangs for the upstream timeout (1 s), then signal.
      await upstream.stop();
      const pending = udpExchange(HOST, dnsPort, rawQuery('b.slow.test', 1, { id: 4242 }), 5000);
      await waitFor(async () => /dnssync_agent_cache_misses_total 2/.test(await (await fetch(`${base}/metrics`)).text()), { what: 'the query to reach the forwarder' });
      r.proc.kill('SIGTERM');
      const answer = await pending;
      expect(answer?.readUInt16BE(0), r.out + r.err).toBe(4242);
      expect((answer?.[3] ?? 0) & 0x0f).toBe(2); // SERVFAIL: upstream gone, nothing stale
      expect(await r.exited).toBe(0);
      expect(r.out).toContain('"msg":"draining"');
    } finally {
      await upstream.stop();
    }
  });
});
