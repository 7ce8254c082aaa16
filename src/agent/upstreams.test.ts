import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { AllUpstreamsFailedError, buildUpstreamQuery, freeId, UpstreamPool } from './upstreams.js';

/** "a.example IN A", ID 0x4242, RD=0, CD=1, AD=1. */
const client = Buffer.from([0x42, 0x42, 0x00, 0x30, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0x61, 7, ...Buffer.from('example'), 0, 0, 1, 0, 1]);
const questionEnd = client.length;

describe('buildUpstreamQuery', () => {
  it('always asks for recursion and for the AD bit, with our EDNS size', () => {
    const q = buildUpstreamQuery(client, questionEnd, 1232);
    expect(q[2]).toBe(0x01); // RD, whatever the client sent
    expect(q[3]).toBe(0x20); // AD (RFC 6840 5.7); no CD
    expect(q.subarray(12, questionEnd)).toEqual(client.subarray(12, questionEnd));
    expect(q.readUInt16BE(10)).toBe(1);
    expect(q.readUInt16BE(questionEnd + 1)).toBe(41);
    expect(q.readUInt16BE(questionEnd + 3)).toBe(1232);
    expect(q.readUInt32BE(questionEnd + 5)).toBe(0); // DO clear
  });

  it("carries the client's DO and CD bits", () => {
    const q = buildUpstreamQuery(client, questionEnd, 1232, { dnssecOk: true, checkingDisabled: true });
    expect(q[3]).toBe(0x30);
    expect(q.readUInt32BE(questionEnd + 5)).toBe(0x8000);
  });
});

describe('the upstream query-ID allocator', () => {
  it('finds the one free ID by a bounded scan when random tries keep hitting pending ones', () => {
    const pending = new Map<number, true>();
    for (let id = 0; id < 65536; id++) if (id !== 40_000) pending.set(id, true);
    let calls = 0;
    expect(freeId(pending, () => (calls++, 7))).toBe(40_000);
    expect(calls).toBe(9); // 8 random tries, then the scan's start
    pending.set(40_000, true);
    expect(freeId(pending, () => 7)).toBeUndefined();
  });

  it('refuses the 65,537th query pending on one upstream instead of spinning for a free ID', async () => {
    // An upstream that reads and never answers: every query stays pending until its timeout.
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
    const pool = new UpstreamPool([{ host: '127.0.0.1', port: silent.address().port }], { timeoutMs: 120_000, downMs: 10_000, udpSize: 1232 });
    const pending: Promise<unknown>[] = [];
    try {
      for (let i = 0; i < 65_536; i++) pending.push(pool.resolve(client, questionEnd).catch((e: unknown) => e));
      const started = Date.now();
      const err = await pool.resolve(client, questionEnd).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AllUpstreamsFailedError);
      expect((err as Error).message).toContain('no free query ID');
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      pool.close();
      silent.close();
    }
    // Closing the pool fails whatever was pending, so nothing is left behind.
    const settled = await Promise.all(pending);
    expect(settled.every((e) => e instanceof AllUpstreamsFailedError)).toBe(true);
  });
});
