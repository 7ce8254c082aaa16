/**
 * The DNS header's vocabulary (RFC 1035 §4.1.1, RFC 6895): opcodes, rcodes and flag bits,
 * defined once for everything that reads or writes messages — the full codec (wire.ts), the
 * agent's byte-level fast path and the sync engine.
 */

export const Opcode = { QUERY: 0, IQUERY: 1, STATUS: 2, NOTIFY: 4, UPDATE: 5, DSO: 6 } as const;
export type OpcodeName = keyof typeof Opcode;

export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  YXDOMAIN: 6,
  YXRRSET: 7,
  NXRRSET: 8,
  NOTAUTH: 9,
  NOTZONE: 10,
  /** Extended rcode 16: upper 8 bits (1) go in the OPT TTL, lower 4 (0) in the header. */
  BADVERS: 16,
  BADKEY: 17,
  BADTIME: 18,
  BADMODE: 19,
  BADNAME: 20,
  BADALG: 21,
  BADTRUNC: 22,
  BADCOOKIE: 23,
} as const;
export type RcodeName = keyof typeof Rcode;

const RCODE_NAMES = new Map<number, string>(Object.entries(Rcode).map(([k, v]) => [v, k]));
const OPCODE_NAMES = new Map<number, string>(Object.entries(Opcode).map(([k, v]) => [v, k]));

export function rcodeName(code: number): string {
  return RCODE_NAMES.get(code) ?? `RCODE_${code}`;
}
export function opcodeName(code: number): string {
  return OPCODE_NAMES.get(code) ?? `OPCODE_${code}`;
}

/** The flag bits of the 16-bit header word (bytes 2-3). */
export const FLAG_QR = 0x8000;
export const FLAG_AA = 0x0400;
export const FLAG_TC = 0x0200;
export const FLAG_RD = 0x0100;
export const FLAG_RA = 0x0080;
export const FLAG_AD = 0x0020;
export const FLAG_CD = 0x0010;

/**
 * The same bits as they sit in the two bytes, for code that patches a message in place:
 * byte 2 holds QR, the opcode, AA, TC and RD; byte 3 holds RA, AD, CD and the rcode.
 */
export const HI_QR = FLAG_QR >> 8;
export const HI_AA = FLAG_AA >> 8;
export const HI_TC = FLAG_TC >> 8;
export const HI_RD = FLAG_RD >> 8;
/** Byte 2 without QR, AA and TC: the opcode and RD, which a response echoes. */
export const HI_OPCODE_RD = 0x79;
export const LO_RA = FLAG_RA;
export const LO_AD = FLAG_AD;
export const LO_CD = FLAG_CD;
export const LO_RCODE = 0x0f;

/** The EDNS DO bit in the OPT record's TTL field (RFC 3225), as a 16-bit word. */
export const EDNS_DO = 0x8000;
export const TYPE_OPT = 41;

export const HEADER_LENGTH = 12;

export interface HeaderFields {
  readonly id: number;
  readonly qr: boolean;
  readonly opcode: number;
  readonly rcode: number;
}

/** Header fields straight from the bytes; undefined when shorter than a header. */
export function headerFields(msg: Uint8Array): HeaderFields | undefined {
  if (msg.length < HEADER_LENGTH) return undefined;
  const flags = ((msg[2] as number) << 8) | (msg[3] as number);
  return { id: ((msg[0] as number) << 8) | (msg[1] as number), qr: (flags & FLAG_QR) !== 0, opcode: (flags >> 11) & 0xf, rcode: flags & LO_RCODE };
}
