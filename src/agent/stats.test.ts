import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { parseMasterFile } from '../dns/masterfile.js';
import { buildSnapshot } from '../zone/snapshot.js';
import { ZoneStore } from '../zone/store.js';
import { QueryHandler } from './handler.js';
import { DURATION_BUCKETS, FORWARDS_INFLIGHT, QueryStats, SOURCE_AUTHORITATIVE, statsLength, sumStats, TCP_OPEN } from './stats.js';
import { durationSamples, histogramSamples, Monotonic, requestSamples, upstreamSamples } from './stats-export.js';

function query(name: string, type: string, id = 1): Buffer {
  return dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: type as 'A', class: 'IN' }] });
}

const byLabels = (samples: readonly { labels: Readonly<Record<string, string>>; value: number }[]): Record<string, number> =>
  Object.fromEntries(samples.map((s) => [Object.values(s.labels).join('/'), s.value]));

describe('query stats', () => {
  it('counts requests by proto, family and type, with CoreDNS type names and "other"', () => {
    const s = new QueryStats();
    s.request(false, false, 1);
    s.request(false, false, 1);
    s.request(true, false, 28);
    s.request(false, true, 65);
    s.request(false, false, 99); // SPF: not a monitored type
    s.request(false, false, 0);
    expect(byLabels(requestSamples(s))).toEqual({ 'udp/1/A': 2, 'tcp/1/AAAA': 1, 'udp/2/HTTPS': 1, 'udp/1/other': 2 });
  });

  it('puts a duration in the first bucket it does not exceed (le), and keeps the sum', () => {
    const s = new QueryStats();
    s.duration(0.00025); // exactly the first bound: le="0.00025"
    s.duration(0.0002501); // just past it: the second bucket
    s.duration(0.003); // 0.002 < 0.003 <= 0.004
    s.duration(100); // past the last bound (8.192): only +Inf
    const lines = durationSamples(s);
    const bucket = (le: string): number | undefined => lines.find((l) => l.suffix === '_bucket' && l.labels['le'] === le)?.value;
    expect(DURATION_BUCKETS[0]).toBe(0.00025);
    expect(DURATION_BUCKETS[15]).toBeCloseTo(8.192, 9);
    expect(bucket('0.00025')).toBe(1);
    expect(bucket('0.0005')).toBe(2);
    expect(bucket('0.002')).toBe(2);
    expect(bucket('0.004')).toBe(3);
    expect(bucket(String(DURATION_BUCKETS[15]))).toBe(3);
    expect(bucket('+Inf')).toBe(4);
    expect(lines.find((l) => l.suffix === '_count')?.value).toBe(4);
    expect(lines.find((l) => l.suffix === '_sum')?.value).toBeCloseTo(100.0035001, 9);
    // Cumulative: never decreasing along the buckets.
    const counts = lines.filter((l) => l.suffix === '_bucket').map((l) => l.value);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
  });

  it("labels each upstream's answers, failures and round trips by its HOST:PORT", () => {
    const s = new QueryStats(new Float64Array(statsLength(2)));
    expect(s.upstreams).toBe(2);
    s.upstreamAnswer(1, false, 0, 0.001);
    s.upstreamAnswer(1, false, 2, 0.002);
    s.upstreamAnswer(1, true, 0, 0.01);
    s.upstreamFailure(0, 'timeout');
    s.upstreamFailure(1, 'rcode');
    const names = ['10.0.0.1:53', '10.0.0.2:53'];
    expect(byLabels(upstreamSamples(s, names, 'responses'))).toEqual({ '10.0.0.2:53/NOERROR': 2, '10.0.0.2:53/SERVFAIL': 1 });
    expect(byLabels(upstreamSamples(s, names, 'failures'))).toEqual({ '10.0.0.1:53/timeout': 1, '10.0.0.2:53/rcode': 1 });
    const latency = upstreamSamples(s, names, 'latency');
    expect(latency.filter((l) => l.suffix === '_count').map((l) => [l.labels['upstream'], l.labels['transport'], l.value])).toEqual([
      ['10.0.0.2:53', 'udp', 2],
      ['10.0.0.2:53', 'tcp', 1],
    ]);
  });

  it("adds the workers' arrays up: counters and connection gauges sum, the shared cache's size does not", () => {
    const a = new QueryStats(new Float64Array(statsLength(1)));
    const b = new QueryStats(new Float64Array(statsLength(1)));
    a.count(SOURCE_AUTHORITATIVE, 0);
    b.count(SOURCE_AUTHORITATIVE, 0);
    b.count(SOURCE_AUTHORITATIVE, 3);
    a.request(false, false, 1);
    b.request(false, false, 1);
    a.duration(0.001);
    b.duration(0.001);
    a.add(TCP_OPEN, 2);
    b.add(TCP_OPEN, 3);
    b.add(FORWARDS_INFLIGHT, 4);
    a.cacheHit();
    b.cacheMiss();
    b.upstreamAnswer(0, false, 0, 0.001);
    a.publishCache({ entries: 10, bytes: 1000 });
    b.publishCache({ entries: 12, bytes: 1200 });
    const sum = sumStats([a, b]);
    expect(sum.total('authoritative')).toBe(3);
    expect(byLabels(requestSamples(sum))).toEqual({ 'udp/1/A': 2 });
    expect(durationSamples(sum).find((l) => l.suffix === '_count')?.value).toBe(2);
    expect(sum.get(TCP_OPEN)).toBe(5);
    expect(sum.get(FORWARDS_INFLIGHT)).toBe(4);
    expect(sum.cacheView()).toEqual({ entries: 12, bytes: 1200, hits: 1, misses: 1 });
    expect(byLabels(upstreamSamples(sum, ['u:53'], 'responses'))).toEqual({ 'u:53/NOERROR': 1 });
    // The inputs are unchanged.
    expect(a.total()).toBe(1);
  });

  it('keeps counters monotonic across a change of source (a new agent in the same process)', () => {
    const m = new Monotonic();
    const one = {};
    const two = {};
    const line = (value: number) => [{ suffix: '' as const, labels: { type: 'A' }, value }];
    expect(m.apply(one, line(5))[0]?.value).toBe(5);
    expect(m.apply(one, line(7))[0]?.value).toBe(7);
    // The new source starts at 0 again: its 2 continue from 7.
    expect(m.apply(two, line(2))[0]?.value).toBe(9);
    // A reading that goes back (it cannot for one source) never makes the counter go back.
    expect(m.apply(two, line(1))[0]?.value).toBe(9);
    expect(m.apply(two, line(4))[0]?.value).toBe(12);
  });

  it('histogram lines carry the given labels plus le', () => {
    const c = new Float64Array(18);
    c[0] = 1;
    const lines = histogramSamples(c, 0, { upstream: 'x' });
    expect(lines).toHaveLength(16 + 1 + 2);
    expect(lines[0]).toEqual({ suffix: '_bucket', labels: { upstream: 'x', le: '0.00025' }, value: 1 });
  });
});

describe('counting through the query handler', () => {
  const zone = `$ORIGIN stats.test.
$TTL 60
@ SOA ns hostmaster 1 60 10 3600 5
@ NS ns
ns A 192.0.2.53
www A 192.0.2.1
`;

  it('counts every answered request once by type, its response by rcode, and its duration; drops count as neither', () => {
    const store = new ZoneStore();
    store.set(buildSnapshot('stats.test', parseMasterFile(zone, { origin: 'stats.test.' })));
    const stats = new QueryStats();
    const h = new QueryHandler(store, undefined, { maxUdpSize: 1232, answerCacheEntries: 100, maxForwards: 10 }, stats);
    h.handle(query('www.stats.test', 'A'), 'udp'); // NOERROR
    h.handle(query('www.stats.test', 'A', 2), 'udp'); // NOERROR from the pre-encoded answer
    h.handle(query('nope.stats.test', 'AAAA'), 'tcp', true); // NXDOMAIN
    h.handle(query('elsewhere.example', 'MX'), 'udp'); // REFUSED: no upstreams
    const formerr = query('www.stats.test', 'A');
    formerr.writeUInt16BE(2, 4); // two questions
    h.handle(formerr, 'udp');
    h.handle(Buffer.from([1, 2, 3]), 'udp'); // not even a header: dropped
    expect(byLabels(requestSamples(stats))).toEqual({ 'udp/1/A': 2, 'tcp/2/AAAA': 1, 'udp/1/MX': 1, 'udp/1/other': 1 });
    expect(stats.total('authoritative')).toBe(3);
    expect(stats.total('local')).toBe(2);
    expect(stats.dropped).toBe(1);
    const requests = requestSamples(stats).reduce((a, l) => a + l.value, 0);
    expect(requests).toBe(stats.total());
    expect(durationSamples(stats).find((l) => l.suffix === '_count')?.value).toBe(5);
  });
});
