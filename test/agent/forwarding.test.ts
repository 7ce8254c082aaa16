/**
 * Forwarding with a real unbound upstream: cache with TTLs counting down, negative caching
 * from the SOA minimum, single-flight, TC → TCP retry, failover with health tracking, the
 * cache bounds, and serve-stale once unbound is stopped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { registry } from '../../src/observability/metrics.js';
import { waitFor } from '../util/wait.js';
import { kdig, rawQuery, udpExchange } from './helpers.js';
import { startUnbound, type Unbound } from './unbound.js';

const AGENT = '127.0.10.2';
const UPSTREAM = '127.0.10.53';
/** Nothing listens here: queries to it time out. */
const DEAD = '127.0.10.54';

const big = Array.from({ length: 20 }, (_, i) => `big.fwd.test. 300 IN TXT "${String(i).padStart(2, '0')}${'y'.repeat(98)}"`);

let unbound: Unbound;
let agent: Agent;
let port: number;

beforeAll(async () => {
  unbound = await startUnbound({
    host: UPSTREAM,
    localZones: ['fwd.test. static'],
    localData: [
      'fwd.test. 3600 IN SOA ns.fwd.test. h.fwd.test. 1 3600 600 86400 7',
      'a.fwd.test. 100 IN A 192.0.2.1',
      'short.fwd.test. 1 IN A 192.0.2.2',
      'flight.fwd.test. 100 IN A 192.0.2.3',
      ...Array.from({ length: 10 }, (_, i) => `n${i}.fwd.test. 100 IN A 192.0.2.${10 + i}`),
      ...big,
    ],
  });
  agent = await Agent.start({
    listen: [{ host: AGENT, port: 0 }],
    upstreams: [{ host: UPSTREAM, port: unbound.port }],
    upstreamTimeoutMs: 300,
    staleAnswerTimeoutMs: 400,
    cache: { maxEntries: 8 },
  });
  port = agent.addresses[0]?.port as number;
});

afterAll(async () => {
  await agent?.stop(1000);
  await unbound?.stop();
});

const q = (args: string[]): ReturnType<typeof kdig> => kdig(AGENT, port, args);

async function upstreamQueries(): Promise<number> {
  return (await unbound.stats()).get('total.num.queries') ?? 0;
}

describe('forwarding to unbound', () => {
  it('forwards, caches, and counts the TTL down in cached answers', async () => {
    const first = await q(['a.fwd.test', 'A']);
    expect(first.RCODE).toBe(0);
    expect(first.AA).toBe(0);
    expect(first.RA).toBe(1);
    expect(first.answerRRs?.[0]?.['rdataA']).toBe('192.0.2.1');
    expect(first.answerRRs?.[0]?.TTL).toBe(100);
    const before = await upstreamQueries();
    const later = await waitFor(
      async () => {
        const r = await q(['a.fwd.test', 'A']);
        return (r.answerRRs?.[0]?.TTL ?? 100) < 100 ? r : undefined;
      },
      { what: 'a cached answer with a lower TTL', timeoutMs: 5000, intervalMs: 200 },
    );
    expect(later.answerRRs?.[0]?.TTL).toBeGreaterThanOrEqual(97);
    // Every one of those came from the cache.
    expect(await upstreamQueries()).toBe(before);
  });

  it('caches NXDOMAIN for the SOA minimum (RFC 2308)', async () => {
    const r = await q(['missing.fwd.test', 'A']);
    expect(r.RCODE).toBe(3);
    expect(r.authorityRRs?.[0]?.TYPEname).toBe('SOA');
    const before = await upstreamQueries();
    const again = await q(['missing.fwd.test', 'A']);
    expect(again.RCODE).toBe(3);
    expect(await upstreamQueries()).toBe(before);
    // The negative entry lives 7 s (SOA MINIMUM), not the SOA's 3600 s TTL.
    // Key: name, NUL, type (2 bytes), then '0' for no DO and no CD (forwardKey).
    const entry = agent.forwarder?.cache.get('missing.fwd.test\u0000\u0000\u00010', Date.now());
    expect(entry).toBeDefined();
    expect(((entry?.expiresAt ?? 0) - (entry?.storedAt ?? 0)) / 1000).toBe(7);
  });

  it('sends identical concurrent queries upstream once (single-flight)', async () => {
    const before = await upstreamQueries();
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => udpExchange(AGENT, port, rawQuery('flight.fwd.test', 1, { id: 500 + i }))));
    expect(answers.every((a) => a !== undefined && a.readUInt16BE(6) === 1)).toBe(true);
    expect(new Set(answers.map((a) => a?.readUInt16BE(0))).size).toBe(20);
    expect((await upstreamQueries()) - before).toBe(1);
  });

  it('retries over TCP when the upstream answer is truncated', async () => {
    const tcpBefore = (await unbound.stats()).get('num.query.tcp') ?? 0;
    const r = await q(['big.fwd.test', 'TXT', '+tcp']);
    expect(r.RCODE).toBe(0);
    expect(r.answerRRs?.length).toBe(20);
    expect(((await unbound.stats()).get('num.query.tcp') ?? 0) - tcpBefore).toBe(1);
    // A UDP client with a small buffer gets TC from the cache, and its TCP retry the data.
    const small = await q(['big.fwd.test', 'TXT', '+ignore']);
    expect(small.TC).toBe(1);
  });

  it('keeps the cache within its entry bound', async () => {
    for (let i = 0; i < 10; i++) expect((await q([`n${i}.fwd.test`, 'A'])).RCODE).toBe(0);
    expect(agent.forwarder?.cache.entries).toBeLessThanOrEqual(8);
    expect(agent.forwarder?.cache.bytes).toBeGreaterThan(0);
  });
});

describe('failover', () => {
  it('passes over a dead upstream and marks it down', async () => {
    const a2 = await Agent.start({
      listen: [{ host: AGENT, port: 0 }],
      upstreams: [
        { host: DEAD, port: unbound.port },
        { host: UPSTREAM, port: unbound.port },
      ],
      upstreamTimeoutMs: 300,
    });
    try {
      const p = a2.addresses[0]?.port as number;
      const r = await kdig(AGENT, p, ['a.fwd.test', 'A']);
      expect(r.answerRRs?.[0]?.['rdataA']).toBe('192.0.2.1');
      // The dead one is marked down and passed over: the next miss goes straight to unbound
      // (well inside kdig's 2 s, where trying the dead one first would cost 300 ms more).
      expect(a2.upstreamHealth()).toEqual([
        { upstream: `${DEAD}:${unbound.port}`, up: false },
        { upstream: `${UPSTREAM}:${unbound.port}`, up: true },
      ]);
      const r2 = await kdig(AGENT, p, ['n1.fwd.test', 'A']);
      expect(r2.RCODE).toBe(0);
      const fails = (await registry.getSingleMetric('dnssync_agent_upstream_failures_total')?.get())?.values ?? [];
      const deadTimeouts = fails.filter((v) => v.labels['upstream'] === `${DEAD}:${unbound.port}` && v.labels['reason'] === 'timeout');
      expect(deadTimeouts.reduce((a, v) => a + v.value, 0)).toBe(1);
    } finally {
      await a2.stop(500);
    }
  });
});

describe('serve-stale (RFC 8767)', () => {
  it('answers expired data with TTL 30 once every upstream fails', async () => {
    const fresh = await q(['short.fwd.test', 'A']);
    expect(fresh.answerRRs?.[0]?.TTL).toBe(1);
    await unbound.stop();
    // Expired after 1 s; from then on every answer is stale, TTL 30.
    const stale = await waitFor(
      async () => {
        const r = await q(['short.fwd.test', 'A']);
        return r.answerRRs?.[0]?.TTL === 30 ? r : undefined;
      },
      { what: 'a stale answer', timeoutMs: 8000, intervalMs: 200 },
    );
    expect(stale.RCODE).toBe(0);
    expect(stale.answerRRs?.[0]?.['rdataA']).toBe('192.0.2.2');
    for (let i = 0; i < 3; i++) {
      const again = await q(['short.fwd.test', 'A']);
      expect(again.answerRRs?.[0]?.['rdataA']).toBe('192.0.2.2');
      expect(again.answerRRs?.[0]?.TTL).toBe(30);
    }
    expect(agent.handler.stats.total('stale')).toBeGreaterThanOrEqual(4);
    // A name never seen has nothing stale: SERVFAIL.
    const none = await q(['never.fwd.test', 'A']);
    expect(none.RCODE).toBe(2);
  });
});
