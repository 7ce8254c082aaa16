/**
 * Typed access to dns-packet's per-type rdata codecs and its name codec, which the module
 * exports at run time but @types/dns-packet does not declare.
 */
import packet from 'dns-packet';

export interface RdataCodec {
  encode: ((data: unknown, buf?: Buffer, offset?: number) => Buffer) & { bytes: number };
  decode: ((buf: Buffer, offset?: number) => unknown) & { bytes: number };
  encodingLength(data: unknown): number;
}

interface NameCodec {
  encode: ((name: string, buf?: Buffer, offset?: number, opts?: { mail?: boolean }) => Buffer) & { bytes: number };
  decode: ((buf: Buffer, offset?: number, opts?: { mail?: boolean }) => string) & { bytes: number };
  encodingLength(name: string): number;
}

interface PacketInternals {
  record(type: string): RdataCodec;
  name: NameCodec;
}

const internals = packet as unknown as PacketInternals;

/** dns-packet's rdata codec for `type` (the generic "unknown" codec for unlisted types). */
export function rdataCodec(type: string): RdataCodec {
  return internals.record(type);
}

export const nameCodec: NameCodec = internals.name;
