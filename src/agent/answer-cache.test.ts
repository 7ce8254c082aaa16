import { describe, expect, it } from 'vitest';
import { AnswerCache, cachedRcode, serveCached, type EncodedAnswer } from './answer-cache.js';
import { encodeMessage } from './encode.js';
import { sharedOpt } from './response.js';

// A response whose question is "www.example.test A" (question ends at 12 + 18 + 4 = 34).
const QUESTION_END = 34;
function response(rcode: number, withOpt: boolean): Buffer {
  const answers = Array.from({ length: 30 }, (_, i) => ({ name: 'www.example.test', type: 'A' as const, ttl: 300, class: 'IN' as const, data: `10.0.0.${i}` }));
  const msg = encodeMessage(0x0400 | rcode, { name: 'www.example.test', type: 'A', class: 'IN' }, answers, [], []);
  if (!withOpt) return msg;
  const out = Buffer.concat([msg, sharedOpt(1232, false)]);
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  return out;
}
// The query as a client sent it: its own ID, RD set, and mixed case in the name.
function query(): Buffer {
  const q = Buffer.from(response(0, false).subarray(0, QUESTION_END));
  q.writeUInt16BE(0xbeef, 0);
  q[2] = 0x01;
  q[3] = 0x00;
  q.write('WwW', 13, 'latin1');
  return q;
}

describe('answer cache compact entries', () => {
  it('a latin1 entry serves the same bytes as the EncodedAnswer it was made from, whole and truncated', () => {
    for (const withOpt of [false, true]) {
      const full = response(3, withOpt);
      const opt = withOpt ? sharedOpt(1232, false) : undefined;
      const encoded: EncodedAnswer = { full, noAdditional: undefined, questionEnd: QUESTION_END, truncated: undefined, opt, rcode: 3 };
      const cache = new AnswerCache(10);
      cache.set('k', encoded);
      const compact = cache.get('k');
      expect(typeof compact).toBe('string');
      if (compact === undefined) throw new Error('not cached');
      expect(cachedRcode(compact)).toBe(3);
      const q = query();
      for (const limit of [65535, 512]) {
        const a = serveCached(compact, limit, opt, q, 0xbeef, q[2] as number, q[3] as number, QUESTION_END);
        const b = serveCached({ ...encoded }, limit, opt, q, 0xbeef, q[2] as number, q[3] as number, QUESTION_END);
        expect(a.equals(b)).toBe(true);
        expect(a.readUInt16BE(0)).toBe(0xbeef);
        expect(a.toString('latin1', 13, 16)).toBe('WwW');
        expect(((a[2] as number) & 0x02) !== 0).toBe(limit === 512);
      }
    }
  });

  it('answers with a form without additional records keep every form', () => {
    const full = response(0, false);
    const encoded: EncodedAnswer = { full, noAdditional: full.subarray(0, 100), questionEnd: QUESTION_END, truncated: undefined, opt: undefined, rcode: 0 };
    const cache = new AnswerCache(10);
    cache.set('k', encoded);
    expect(cache.get('k')).toBe(encoded);
  });

  it('stays within its bound and keeps the names in use through rotations', () => {
    const full = response(0, false);
    const encoded: EncodedAnswer = { full, noAdditional: undefined, questionEnd: QUESTION_END, truncated: undefined, opt: undefined, rcode: 0 };
    const cache = new AnswerCache(100);
    for (let i = 0; i < 1000; i++) {
      cache.set(`once${i}`, encoded);
      if (i === 0) cache.set('hot', encoded);
      // 'hot' is asked for all along: it must survive every rotation of one-off names.
      expect(cache.get('hot')).toBeDefined();
      expect(cache.size).toBeLessThanOrEqual(100);
    }
    expect(cache.get('once0')).toBeUndefined();
    expect(cache.get('once999')).toBeDefined();
    cache.sync(1);
    expect([cache.size, cache.get('hot')]).toEqual([0, undefined]);
  });
});

