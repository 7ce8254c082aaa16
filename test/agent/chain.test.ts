/**
 * The query chain's two new stages against real resolvers: stub domains (--forward
 * ZONE=HOST:PORT) send their names to their own unbound while everything else goes to the
 * default one and our own zones still answer first; the per-client rate limit drops or
 * truncates UDP answers past the limit and leaves TCP alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { buildSnapshot } from '../../src/zone/snapshot.js';
import { rr, soa } from '../util/zone-records.js';
import { kdig, rawQuery, rcodeOf, tcpPipeline, udpExchange } from './helpers.js';
import { startUnbound, type Unbound } from './unbound.js';

const AGENT = '127.0.12.2';
const LIMITED = '127.0.12.3';
const DEFAULT_UP = '127.0.12.53';
const STUB_UP = '127.0.12.54';

let defaultUp: Unbound;
let stubUp: Unbound;
let agent: Agent;
let limited: Agent;

beforeAll(async () => {
  // Both resolvers know corp.test and stub.test, with different addresses: the answer says
  // which one was asked.
  const data = (last: number): string[] => [
    `a.corp.test. 100 IN A 192.0.2.${last}`,
    `b.sub.corp.test. 100 IN A 192.0.2.${last}`,
    `x.else.test. 100 IN A 192.0.2.${last}`,
    `mine.own.test. 100 IN A 192.0.2.${last}`,
  ];
  const zones = ['corp.test. static', 'else.test. static', 'own.test. static'];
  defaultUp = await startUnbound({ host: DEFAULT_UP, localZones: zones, localData: data(1) });
  stubUp = await startUnbound({ host: STUB_UP, localZones: zones, localData: data(2) });
  agent = await Agent.start({
    listen: [{ host: AGENT, port: 0 }],
    upstreams: [{ host: DEFAULT_UP, port: defaultUp.port }],
    forwardZones: [{ zone: 'corp.test', upstreams: [{ host: STUB_UP, port: stubUp.port }] }],
  });
  agent.store.set(buildSnapshot('own.test', [soa('own.test', 1), rr('mine.own.test', 'A', '198.51.100.7')]));
  limited = await Agent.start({ listen: [{ host: LIMITED, port: 0 }], upstreams: [], rateLimit: 5 });
  limited.store.set(buildSnapshot('own.test', [soa('own.test', 1), rr('mine.own.test', 'A', '198.51.100.7')]));
});

afterAll(async () => {
  await agent?.stop(1000);
  await limited?.stop(1000);
  await defaultUp?.stop();
  await stubUp?.stop();
});

const addressOf = async (server: string, port: number, name: string): Promise<string | undefined> => (await kdig(server, port, [name, 'A'])).answerRRs?.[0]?.['rdataA'] as string | undefined;

describe('stub domains (--forward ZONE=HOST:PORT)', () => {
  it('are stages of their own, after our zones and before the default forwarder', () => {
    expect(agent.handler.chain.map((s) => s.name)).toEqual(['answer-cache', 'query-checks', 'zones', 'forward-cache corp.test', 'forward corp.test', 'forward-cache', 'forward']);
    expect(limited.handler.chain.map((s) => s.name)).toEqual(['rate-limit', 'answer-cache', 'query-checks', 'zones']);
  });

  it('send names at or below the zone to its resolver, the rest to --upstream, ours to no one', async () => {
    const port = agent.addresses[0]?.port as number;
    expect(await addressOf(AGENT, port, 'a.corp.test')).toBe('192.0.2.2');
    expect(await addressOf(AGENT, port, 'B.Sub.Corp.Test')).toBe('192.0.2.2');
    expect(await addressOf(AGENT, port, 'x.else.test')).toBe('192.0.2.1');
    expect(await addressOf(AGENT, port, 'mine.own.test')).toBe('198.51.100.7');
    // Cached per forwarder: asked again, still the stub's answer.
    expect(await addressOf(AGENT, port, 'a.corp.test')).toBe('192.0.2.2');
  });
});

describe('per-client rate limit (--rate-limit)', () => {
  it('past the limit answers some UDP queries TC=1 and drops the others; TCP is not limited', async () => {
    const port = limited.addresses[0]?.port as number;
    const replies = await Promise.all(Array.from({ length: 30 }, (_, i) => udpExchange(LIMITED, port, rawQuery('mine.own.test', 1, { id: i + 1 }), 1500)));
    const full = replies.filter((r) => r !== undefined && ((r[2] as number) & 0x02) === 0 && r.readUInt16BE(6) === 1);
    const truncated = replies.filter((r) => r !== undefined && ((r[2] as number) & 0x02) !== 0 && r.readUInt16BE(6) === 0);
    const none = replies.filter((r) => r === undefined);
    // 30 queries span at most two one-second windows on a loaded machine: at most 10 answered.
    expect(full.length).toBeGreaterThanOrEqual(5);
    expect(full.length).toBeLessThanOrEqual(10);
    expect(truncated.length).toBeGreaterThan(0);
    expect(none.length).toBeGreaterThan(0);
    expect(full.length + truncated.length + none.length).toBe(30);
    const tcp = await tcpPipeline(LIMITED, port, Array.from({ length: 10 }, (_, i) => rawQuery('mine.own.test', 1, { id: 100 + i })));
    expect(tcp.map(rcodeOf)).toEqual(Array<number>(10).fill(0));
  });
});
