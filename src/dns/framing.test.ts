import { describe, expect, it } from 'vitest';
import { frame, frameAll, FrameBuffer, frameEnd } from './framing.js';
import { addressBytes, addressText } from './address.js';

describe('TCP framing', () => {
  it('prefixes the length and finds whole frames only', () => {
    const f = frame(Buffer.from('abc'));
    expect([...f]).toEqual([0, 3, 0x61, 0x62, 0x63]);
    expect(frameEnd(f)).toBe(5);
    expect(frameEnd(f.subarray(0, 4))).toBe(-1);
    expect(frameEnd(f.subarray(0, 1))).toBe(-1);
    const two = frameAll([Buffer.from('a'), Buffer.from('bc')]);
    expect(frameEnd(two, frameEnd(two))).toBe(two.length);
  });

  it('takes messages apart however the bytes arrive', () => {
    const stream = frameAll([Buffer.from('one'), Buffer.alloc(0), Buffer.from('three')]);
    const fb = new FrameBuffer();
    const got: string[] = [];
    for (const b of stream) {
      fb.push(Buffer.from([b]));
      for (let m = fb.take(); m !== undefined; m = fb.take()) got.push(m.toString());
      fb.compact();
    }
    expect(got).toEqual(['one', '', 'three']);
    expect(fb.whole).toBe(false);
  });
});

describe('addresses', () => {
  it('round-trip as inet_ntop writes them', () => {
    for (const [text, want] of [['192.0.2.1', '192.0.2.1'], ['fd00::1', 'fd00::1'], ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], ['::ffff:192.0.2.1', '::ffff:c000:201'], ['::', '::']]) {
      expect(addressText(addressBytes(text as string))).toBe(want);
    }
    expect(addressBytes('fd00::1').length).toBe(16);
  });
});
