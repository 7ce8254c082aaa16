import { describe, expect, it } from 'vitest';
import { buildUpstreamQuery } from './upstreams.js';

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
