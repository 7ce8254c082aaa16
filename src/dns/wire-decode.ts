/**
 * Decoding DNS messages: dns-packet wrapped so that any malformed input becomes one typed
 * WireError, with opcode, the full (extended) rcode and EDNS read out.
 */
import packet from 'dns-packet';
import { WireError } from './wire-error.js';
import { EDNS_DO, opcodeName, rcodeName } from './header.js';

// ---------------------------------------------------------------------------------------
// Decoding

export interface DecodedEdns {
  readonly udpSize: number;
  readonly do: boolean;
  readonly version: number;
  readonly options: ReadonlyArray<{ code: number; data: Buffer }>;
}

/** dns-packet's decoded packet plus opcode, full rcode and EDNS, typed. */
export type DecodedMessage = packet.DecodedPacket & {
  readonly id: number;
  readonly opcode: string;
  readonly opcodeNumber: number;
  /** Header rcode merged with the EDNS extended rcode. */
  readonly rcode: string;
  readonly rcodeNumber: number;
  readonly edns: DecodedEdns | undefined;
  readonly questions: packet.Question[];
  readonly answers: packet.Answer[];
  readonly authorities: packet.Answer[];
  readonly additionals: packet.Answer[];
};

/**
 * Decodes a message. Any malformation (short buffer, label or rdata overrun, forward or
 * looping compression pointer, name longer than 255 octets) is a WireError; nothing else
 * is thrown. dns-packet only accepts pointers to earlier offsets, so pointer chains end.
 */
export function decodeMessage(buf: Buffer): DecodedMessage {
  if (buf.length < 12) throw new WireError(`message shorter than a header (${buf.length} octets)`);
  // A question takes at least 5 octets and a record 11: refuse impossible counts before
  // dns-packet allocates arrays of up to 65535 slots per section for them.
  const minimum = 12 + buf.readUInt16BE(4) * 5 + (buf.readUInt16BE(6) + buf.readUInt16BE(8) + buf.readUInt16BE(10)) * 11;
  if (minimum > buf.length) throw new WireError('section counts exceed the message length');
  const end = structuralEnd(buf);
  if (end < 0) throw new WireError('malformed message: a name or record runs past the end');
  let d: packet.DecodedPacket;
  try {
    d = packet.decode(buf);
  } catch (e) {
    throw new WireError(`malformed message: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  // dns-packet advances by what each type's decoder read, not by RDLENGTH (an A record is
  // always 4 octets to it); a record whose RDLENGTH disagrees would shift every later one.
  if (packet.decode.bytes !== end) throw new WireError('malformed message: RDLENGTH disagrees with the record data');
  const word = buf.readUInt16BE(2);
  const opcodeNumber = (word >> 11) & 0xf;
  const additionals = d.additionals ?? [];
  const opt = additionals.find((a) => a.type === 'OPT') as (packet.OptAnswer & { extendedRcode?: number }) | undefined;
  let edns: DecodedEdns | undefined;
  let rcodeNumber = word & 0xf;
  if (opt !== undefined) {
    rcodeNumber |= (opt.extendedRcode ?? 0) << 4;
    edns = {
      udpSize: opt.udpPayloadSize,
      do: (opt.flags & EDNS_DO) !== 0,
      version: opt.ednsVersion,
      options: (opt.options ?? []).map((o) => ({ code: o.code as number, data: o.data ?? Buffer.alloc(0) })),
    };
  }
  return {
    ...d,
    id: d.id ?? 0,
    opcode: opcodeName(opcodeNumber),
    opcodeNumber,
    rcode: rcodeName(rcodeNumber),
    rcodeNumber,
    edns,
    questions: d.questions ?? [],
    answers: d.answers ?? [],
    authorities: d.authorities ?? [],
    additionals,
  };
}

/** Skips a possibly compressed name; returns the offset after it, or -1 when malformed. */
function skipName(buf: Buffer, off: number): number {
  let total = 0;
  for (;;) {
    if (off >= buf.length) return -1;
    const len = buf[off] as number;
    if (len === 0) return off + 1;
    if ((len & 0xc0) === 0xc0) return off + 2 <= buf.length ? off + 2 : -1;
    if ((len & 0xc0) !== 0) return -1;
    total += len + 1;
    if (total > 255) return -1;
    off += len + 1;
  }
}

/** The offset just past the last record, walking by RDLENGTH; -1 when something overruns. */
function structuralEnd(buf: Buffer): number {
  const n = buf.length;
  let off = 12;
  const qd = buf.readUInt16BE(4);
  for (let i = 0; i < qd; i++) {
    off = skipName(buf, off);
    if (off < 0 || off + 4 > n) return -1;
    off += 4;
  }
  const rrs = buf.readUInt16BE(6) + buf.readUInt16BE(8) + buf.readUInt16BE(10);
  for (let i = 0; i < rrs; i++) {
    off = skipName(buf, off);
    if (off < 0 || off + 10 > n) return -1;
    off += 10 + buf.readUInt16BE(off + 8);
    if (off > n) return -1;
  }
  return off;
}
