/**
 * Domain names in wire format, read in place: the one reader behind the sync codec's ACK
 * parsing, TSIG's record search and the forwarder's response walk. Malformed input — a
 * name past the end, a reserved label type, a compression loop — throws WireNameError,
 * which each caller turns into its own error for its own reply (NOTIMP, FORMERR, a dropped
 * upstream answer).
 */

export class WireNameError extends Error {
  override readonly name = 'WireNameError';
}

/** Compression pointers followed before a name counts as a loop (a name has ≤ 127 labels). */
const MAX_HOPS = 64;
/** Labels walked before a name counts as too long: 255 octets hold at most 127. */
const MAX_LABELS = 128;

/**
 * The name at `offset`, lower-case with no trailing dot (the root is ''), following
 * compression pointers, and the offset just after it where it sits (after the first
 * pointer if there is one).
 */
export function readWireName(msg: Uint8Array, offset: number): { name: string; end: number } {
  let name = '';
  let o = offset;
  let end = -1;
  let hops = 0;
  for (let labels = 0; labels < MAX_LABELS; labels++) {
    if (o >= msg.length) throw new WireNameError('name runs past the end');
    const len = msg[o] as number;
    if (len === 0) return { name, end: end < 0 ? o + 1 : end };
    if ((len & 0xc0) === 0xc0) {
      if (o + 1 >= msg.length) throw new WireNameError('truncated pointer');
      if (end < 0) end = o + 2;
      o = ((len & 0x3f) << 8) | (msg[o + 1] as number);
      if (++hops > MAX_HOPS) throw new WireNameError('pointer loop');
      labels--;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new WireNameError('bad label type');
    if (o + 1 + len > msg.length) throw new WireNameError('label runs past the end');
    const label = Buffer.from(msg.buffer, msg.byteOffset + o + 1, len).toString('latin1').toLowerCase();
    name = name === '' ? label : `${name}.${label}`;
    o += 1 + len;
  }
  throw new WireNameError('name too long');
}

/** The offset just after the name at `offset`, without reading it: a pointer ends it. */
export function skipWireName(msg: Uint8Array, offset: number): number {
  let o = offset;
  for (let labels = 0; labels < MAX_LABELS; labels++) {
    if (o >= msg.length) throw new WireNameError('name runs past the end');
    const len = msg[o] as number;
    if (len === 0) return o + 1;
    if ((len & 0xc0) === 0xc0) {
      if (o + 1 >= msg.length) throw new WireNameError('truncated pointer');
      return o + 2;
    }
    if ((len & 0xc0) !== 0) throw new WireNameError('bad label type');
    o += 1 + len;
  }
  throw new WireNameError('name too long');
}
