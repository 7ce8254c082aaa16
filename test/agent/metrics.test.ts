/**
 * The agent's CoreDNS-style query metrics, scraped from a real `dnssync agent` process with
 * two query threads (so every figure is the sum of two threads' counters), while kdig and dig
 * send real queries: an authoritative NOERROR over UDP, an NXDOMAIN over TCP, a name whose
 * upstream (a real unbound) refuses it (SERVFAIL to the client), a forwarded name, then the
 * same name again from the cache. Every figure must move by exactly what those five queries
 * account for — no more (double counting), no less (a thread not added up).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireCurrentDist } from '../util/dist.js';
import { parseScrape, total, type Scrape } from '../util/prom.js';
import { waitFor } from '../util/wait.js';
import { dig, freePort, kdig, writeZone } from './helpers.js';
import { startUnbound, type Unbound } from './unbound.js';

const HOST = '127.0.63.4';
const UPSTREAM = '127.0.63.5';

const ZONE = `$ORIGIN m.test.
@ 60 IN SOA ns h 7 3600 600 86400 30
@ 60 IN NS ns
ns 60 IN A 10.0.0.1
www 60 IN A 10.0.0.9
`;

let unbound: Unbound;
let proc: ChildProcess | undefined;
let dnsPort = 0;
let metricsBase = '';
let upstream = '';

beforeAll(async () => {
  requireCurrentDist();
  unbound = await startUnbound({
    host: UPSTREAM,
    localZones: ['fwd.test. static', 'refused.test. refuse'],
    localData: ['fwd.test. 60 IN SOA ns h 1 2 3 4 5', 'ok.fwd.test. 300 IN A 192.0.2.8'],
  });
  upstream = `${unbound.host}:${unbound.port}`;
  const zone = await writeZone(ZONE);
  dnsPort = await freePort(HOST);
  const metricsPort = await freePort(HOST);
  metricsBase = `http://${HOST}:${metricsPort}`;
  let err = '';
  proc = spawn(
    process.execPath,
    ['dist/src/cli/main.js', 'agent', '--zone-file', zone, '--listen', `${HOST}:${dnsPort}`, '--upstream', upstream, '--metrics-listen', `${HOST}:${metricsPort}`, '--workers', '2', '--log-level', 'warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  proc.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  await waitFor(async () => (await fetch(`${metricsBase}/readyz`).catch(() => undefined))?.status === 200, { what: `agent ready (${err})`, timeoutMs: 15_000 });
});

afterAll(async () => {
  if (proc !== undefined && proc.exitCode === null) {
    const exited = new Promise((resolve) => proc?.once('exit', resolve));
    proc.kill('SIGTERM');
    await exited;
  }
  await unbound?.stop();
});

async function scrape(): Promise<Scrape> {
  return parseScrape(await (await fetch(`${metricsBase}/metrics`)).text());
}

describe('agent query metrics (CoreDNS-style), two query threads', () => {
  it('move by exactly the queries sent: requests, responses by rcode, durations, cache, upstream', async () => {
    const before = await scrape();

    const www = await kdig(HOST, dnsPort, ['www.m.test', 'A']);
    expect(www.RCODE).toBe(0);
    const nx = await dig(HOST, dnsPort, ['+tcp', 'nope.m.test', 'AAAA']);
    expect(nx).toMatch(/status: NXDOMAIN/);
    const refused = await kdig(HOST, dnsPort, ['x.refused.test', 'A']);
    expect(refused.RCODE).toBe(2); // SERVFAIL: the one upstream refused, nothing stale
    const fwd = await kdig(HOST, dnsPort, ['ok.fwd.test', 'A']);
    expect(fwd.answerRRs?.[0]?.['rdataA']).toBe('192.0.2.8');
    const hit = await kdig(HOST, dnsPort, ['ok.fwd.test', 'A']);
    expect(hit.answerRRs?.[0]?.['rdataA']).toBe('192.0.2.8');

    // Everything is counted before the answer leaves; poll only to be robust to a slow
    // scrape, then require exact figures.
    let after = await scrape();
    await waitFor(async () => total((after = await scrape()), 'dnssync_agent_requests_total') - total(before, 'dnssync_agent_requests_total') >= 5, { what: '5 requests counted', timeoutMs: 5_000 });
    const delta = (name: string, match: Record<string, string> = {}): number => total(after, name, match) - total(before, name, match);

    // Requests, by CoreDNS's labels.
    expect(delta('dnssync_agent_requests_total')).toBe(5);
    expect(delta('dnssync_agent_requests_total', { proto: 'udp', family: '1', type: 'A' })).toBe(4);
    expect(delta('dnssync_agent_requests_total', { proto: 'tcp', family: '1', type: 'AAAA' })).toBe(1);
    // Responses, by source and rcode.
    expect(delta('dnssync_agent_queries_total')).toBe(5);
    expect(delta('dnssync_agent_queries_total', { source: 'authoritative', rcode: 'NOERROR' })).toBe(1);
    expect(delta('dnssync_agent_queries_total', { source: 'authoritative', rcode: 'NXDOMAIN' })).toBe(1);
    expect(delta('dnssync_agent_queries_total', { source: 'local', rcode: 'SERVFAIL' })).toBe(1);
    expect(delta('dnssync_agent_queries_total', { source: 'upstream', rcode: 'NOERROR' })).toBe(1);
    expect(delta('dnssync_agent_queries_total', { source: 'cache', rcode: 'NOERROR' })).toBe(1);
    expect(delta('dnssync_agent_queries_total', { rcode: 'SERVFAIL' })).toBe(1);
    // One duration per answered request; the +Inf bucket is the count.
    expect(delta('dnssync_agent_request_duration_seconds_count')).toBe(5);
    expect(delta('dnssync_agent_request_duration_seconds_bucket', { le: '+Inf' })).toBe(5);
    expect(delta('dnssync_agent_request_duration_seconds_sum')).toBeGreaterThan(0);
    // The cache: the two first forwards missed, the repeat hit.
    expect(delta('dnssync_agent_cache_misses_total')).toBe(2);
    expect(delta('dnssync_agent_cache_hits_total')).toBe(1);
    // Forwarding: the refused name failed for the client; the upstream answered twice.
    expect(delta('dnssync_agent_forward_failures_total')).toBe(1);
    expect(delta('dnssync_agent_upstream_responses_total', { upstream, rcode: 'REFUSED' })).toBe(1);
    expect(delta('dnssync_agent_upstream_responses_total', { upstream, rcode: 'NOERROR' })).toBe(1);
    expect(delta('dnssync_agent_upstream_failures_total', { upstream, reason: 'rcode' })).toBe(1);
    expect(delta('dnssync_agent_upstream_failures_total', { upstream, reason: 'timeout' })).toBe(0);
    expect(delta('dnssync_agent_upstream_duration_seconds_count', { upstream, transport: 'udp' })).toBe(2);
    // Histograms are declared as such (Prometheus's histogram_quantile needs _bucket lines).
    expect(after.families.get('dnssync_agent_request_duration_seconds')).toBe('histogram');
    expect(after.families.get('dnssync_agent_upstream_duration_seconds')).toBe('histogram');
    expect(after.families.get('dnssync_agent_requests_total')).toBe('counter');
  });
});
