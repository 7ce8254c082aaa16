import packet from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { scanResponse, UpstreamMessageError } from './upstream-message.js';

const question = { name: 'x.example', type: 'A' as const, class: 'IN' as const };
const questionEnd = 12 + 'x.example'.length + 2 + 4;
const soa = { name: 'example', type: 'SOA' as const, ttl: 3600, data: { mname: 'ns.example', rname: 'h.example', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 42 } };
const opt: packet.Answer = { name: '.', type: 'OPT', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] };

describe('scanResponse', () => {
  it('finds every TTL, the smallest answer TTL, and cuts the OPT record off', () => {
    const msg = packet.encode({
      type: 'response', id: 1, flags: 0x0180, questions: [question],
      answers: [{ name: 'x.example', type: 'A', ttl: 300, data: '192.0.2.1' }, { name: 'x.example', type: 'A', ttl: 120, data: '192.0.2.2' }],
      additionals: [opt],
    });
    const r = scanResponse(msg, questionEnd);
    expect(r.counts).toEqual([2, 0, 0]);
    expect([...r.ttls]).toEqual([300, 120]);
    expect(r.cacheTtl).toBe(120);
    expect(r.negative).toBe(false);
    expect(r.body.length).toBe(msg.length - questionEnd - 11);
    expect(r.body.readUInt32BE((r.ttlOffsets[1] as number))).toBe(120);
    expect([r.answerEnd, r.authorityEnd]).toEqual([r.body.length, r.body.length]);
    expect(r.authenticData).toBe(false);
  });

  it("finds where each section starts and keeps the upstream's AD bit", () => {
    const msg = packet.encode({
      type: 'response', id: 1, flags: 0x01a0, questions: [question],
      answers: [{ name: 'x.example', type: 'A', ttl: 300, data: '192.0.2.1' }],
      authorities: [{ name: 'example', type: 'NS', ttl: 300, data: 'ns.example' }],
      additionals: [{ name: 'ns.example', type: 'A', ttl: 300, data: '192.0.2.53' }, opt],
    });
    const r = scanResponse(msg, questionEnd);
    expect(r.authenticData).toBe(true);
    expect(r.counts).toEqual([1, 1, 1]);
    // dns-packet does not compress: x.example A = 11 + 10 + 4; example NS = 9 + 10 + 12.
    expect(r.answerEnd).toBe(25);
    expect(r.authorityEnd).toBe(25 + 31);
    expect(r.body.length).toBe(r.authorityEnd + 12 + 10 + 4);
  });

  it('negative TTL = min(SOA TTL, SOA MINIMUM) for NXDOMAIN and NODATA (RFC 2308)', () => {
    const nx = packet.encode({ type: 'response', id: 1, flags: 0x0183, questions: [question], authorities: [soa] });
    expect(scanResponse(nx, questionEnd)).toMatchObject({ negative: true, cacheTtl: 42, rcode: 3 });
    const nodata = packet.encode({ type: 'response', id: 1, flags: 0x0180, questions: [question], authorities: [{ ...soa, ttl: 10 }] });
    expect(scanResponse(nodata, questionEnd)).toMatchObject({ negative: true, cacheTtl: 10, rcode: 0 });
    const bare = packet.encode({ type: 'response', id: 1, flags: 0x0183, questions: [question] });
    expect(scanResponse(bare, questionEnd).cacheTtl).toBeUndefined();
  });

  it('refuses a message whose records run past its end', () => {
    const msg = packet.encode({ type: 'response', id: 1, flags: 0x0180, questions: [question], answers: [{ name: 'x.example', type: 'A', ttl: 300, data: '192.0.2.1' }] });
    expect(() => scanResponse(msg.subarray(0, msg.length - 2), questionEnd)).toThrow(UpstreamMessageError);
  });
});
