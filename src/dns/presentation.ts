/**
 * The presentation (zone-file) format of one record's parts: names, TTLs, character-strings
 * and the rdata of every type dnssync serves, in both directions.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { canonicalName, RECORD_TYPES, type RR, type RRType } from './rr.js';
import { canonicalData, canonicalRR, type CaaRdata, type MxRdata, type SoaRdata, type SrvRdata } from './rdata.js';
import { rdataCodec } from './packet-codecs.js';
import { LexError, tokenize, type Token } from './tokens.js';

/** Bad presentation-format data; `reason` is a sentence fit for a status message. */
export class RdataError extends Error {
  override readonly name = 'RdataError';
  constructor(readonly reason: string) {
    super(reason);
  }
}

const SUPPORTED: ReadonlySet<string> = new Set<string>([...RECORD_TYPES, 'SOA']);

export function isSupportedType(type: string): type is RRType {
  return SUPPORTED.has(type);
}

/** Decodes `\X` and `\DDD` escapes into bytes. */
export function decodeEscapes(raw: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c !== 92) {
      if (c < 0x80) out.push(c);
      else out.push(...Buffer.from(raw.charAt(i), 'utf8'));
      continue;
    }
    const d = raw.slice(i + 1, i + 4);
    if (/^[0-9]{3}$/.test(d)) {
      const v = Number(d);
      if (v > 255) throw new RdataError(`escape \\${d} is above 255`);
      out.push(v);
      i += 3;
    } else if (/^[0-9]/.test(d)) {
      // RFC 1035 §5.1: a digit after the backslash starts \DDD, which needs all three.
      throw new RdataError(`bad escape \\${d}: \\DDD needs three digits`);
    } else if (i + 1 < raw.length) {
      out.push(...Buffer.from(raw.charAt(i + 1), 'utf8'));
      i += 1;
    } else {
      throw new RdataError('dangling backslash');
    }
  }
  return Buffer.from(out);
}

/**
 * A domain name in presentation format → canonical name. Relative names take `origin`;
 * `@` is the origin. Escaped dots and non-printable octets inside labels are refused:
 * records travel as dotted strings through dns-packet, which cannot carry them.
 */
export function parseName(raw: string, origin: string | undefined): string {
  if (raw === '@') {
    if (origin === undefined) throw new RdataError("'@' used but no origin is known");
    return origin;
  }
  if (raw === '.') return '';
  const labels: string[] = [];
  let label: number[] = [];
  let absolute = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charAt(i);
    if (c === '.') {
      if (label.length === 0) throw new RdataError(`empty label in name "${raw}"`);
      labels.push(labelText(label, raw));
      label = [];
      if (i === raw.length - 1) absolute = true;
      continue;
    }
    if (c === '\\') {
      const d = raw.slice(i + 1, i + 4);
      if (/^[0-9]{3}$/.test(d)) {
        if (Number(d) > 255) throw new RdataError(`escape \\${d} is above 255 in name "${raw}"`);
        label.push(Number(d));
        i += 3;
      } else if (/^[0-9]/.test(d)) {
        throw new RdataError(`bad escape \\${d} in name "${raw}": \\DDD needs three digits`);
      } else if (i + 1 < raw.length) {
        label.push(raw.charCodeAt(i + 1));
        i += 1;
      } else {
        throw new RdataError(`dangling backslash in name "${raw}"`);
      }
      continue;
    }
    const code = raw.charCodeAt(i);
    if (code <= 0x20 || code >= 0x7f) throw new RdataError(`name "${raw}" holds a non-printable or non-ASCII character`);
    label.push(code);
  }
  if (label.length > 0) labels.push(labelText(label, raw));
  let name = labels.join('.').toLowerCase();
  if (!absolute) {
    if (origin === undefined) throw new RdataError(`relative name "${raw}" but no origin is known`);
    name = origin === '' ? name : `${name}.${origin}`;
  }
  // 255 octets on the wire = 253 characters of dotted text.
  if (name.length > 253) throw new RdataError(`name "${raw}" is longer than 255 octets`);
  return name;
}

function labelText(bytes: number[], raw: string): string {
  if (bytes.length > 63) throw new RdataError(`label longer than 63 octets in "${raw}"`);
  for (const b of bytes) {
    if (b === 46) throw new RdataError(`escaped dot inside a label in "${raw}" is not supported`);
    if (b <= 0x20 || b >= 0x7f) throw new RdataError(`octet \\${String(b).padStart(3, '0')} in a label of "${raw}" is not supported`);
  }
  return String.fromCharCode(...bytes);
}

const TTL_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Whether a token is a TTL (plain seconds or BIND units like 1h30m). */
export function looksLikeTtl(raw: string): boolean {
  return /^[0-9]+$/.test(raw) || /^([0-9]+[smhdw])+$/i.test(raw);
}

/** A TTL (RFC 2181 §8: 0..2^31-1) in seconds or with units (1w2d3h4m5s). */
export function parseTtl(raw: string): number {
  let v: number;
  if (/^[0-9]+$/.test(raw)) {
    v = Number(raw);
  } else if (/^([0-9]+[smhdw])+$/i.test(raw)) {
    v = 0;
    for (const m of raw.toLowerCase().matchAll(/([0-9]+)([smhdw])/g)) v += Number(m[1]) * (TTL_UNITS[m[2] ?? 's'] ?? 1);
  } else {
    throw new RdataError(`bad TTL "${raw}"`);
  }
  if (v > 2147483647) throw new RdataError(`TTL ${raw} is above 2147483647`);
  return v;
}

function parseUint(raw: string, what: string, max: number): number {
  if (!/^[0-9]+$/.test(raw)) throw new RdataError(`${what} "${raw}" is not a number`);
  const v = Number(raw);
  if (v > max) throw new RdataError(`${what} ${raw} is above ${max}`);
  return v;
}

function charString(t: Token): Buffer {
  const b = decodeEscapes(t.raw);
  if (b.length > 255) throw new RdataError('a character-string is longer than 255 octets');
  return b;
}

function needs(type: string, tokens: readonly Token[], count: number): void {
  if (tokens.length !== count) {
    throw new RdataError(`${type} needs ${count} field${count === 1 ? '' : 's'}, got ${tokens.length}`);
  }
}

/** RFC 3597 `\# length hex…`, accepted for every type and decoded into the type's shape. */
function parseGeneric(type: string, tokens: readonly Token[]): unknown {
  const len = parseUint(tokens[1]?.raw ?? '', 'RFC 3597 length', 65535);
  const hex = tokens.slice(2).map((t) => t.raw).join('');
  if (!/^([0-9a-f]{2})*$/i.test(hex) || hex.length !== len * 2) {
    throw new RdataError(`RFC 3597 data does not match its length ${len}`);
  }
  const body = Buffer.from(hex, 'hex');
  const wire = Buffer.alloc(2 + body.length);
  wire.writeUInt16BE(body.length, 0);
  body.copy(wire, 2);
  try {
    const codec = rdataCodec(type);
    const data = codec.decode(wire, 0);
    if (codec.decode.bytes !== wire.length) throw new Error('length mismatch');
    return data;
  } catch {
    throw new RdataError(`RFC 3597 data is not a valid ${type}`);
  }
}

/** Rdata tokens of `type` → canonical rdata (dns-packet's shape). */
export function parseRdataTokens(type: RRType, tokens: readonly Token[], origin: string | undefined): unknown {
  if (tokens[0]?.raw === '\\#' && tokens[0].quoted === false) return canonicalData(type, parseGeneric(type, tokens));
  const t = (i: number): string => tokens[i]?.raw ?? '';
  switch (type) {
    case 'A':
      needs(type, tokens, 1);
      if (!isIPv4(t(0))) throw new RdataError(`"${t(0)}" is not an IPv4 address`);
      return t(0);
    case 'AAAA':
      needs(type, tokens, 1);
      if (!isIPv6(t(0))) throw new RdataError(`"${t(0)}" is not an IPv6 address`);
      return canonicalData('AAAA', t(0));
    case 'CNAME':
    case 'NS':
    case 'PTR':
      needs(type, tokens, 1);
      return parseName(t(0), origin);
    case 'MX':
      needs(type, tokens, 2);
      return { preference: parseUint(t(0), 'MX preference', 65535), exchange: parseName(t(1), origin) } satisfies MxRdata;
    case 'SRV':
      needs(type, tokens, 4);
      return {
        priority: parseUint(t(0), 'SRV priority', 65535),
        weight: parseUint(t(1), 'SRV weight', 65535),
        port: parseUint(t(2), 'SRV port', 65535),
        target: parseName(t(3), origin),
      } satisfies SrvRdata;
    case 'TXT':
      if (tokens.length === 0) throw new RdataError('TXT needs at least 1 field');
      return tokens.map(charString);
    case 'CAA': {
      needs(type, tokens, 3);
      const flags = parseUint(t(0), 'CAA flags', 255);
      const tag = t(1);
      if (!/^[a-z0-9]+$/i.test(tag)) throw new RdataError(`CAA tag "${tag}" must be letters and digits`);
      const value = decodeEscapes(t(2)).toString('utf8');
      // Tags match case-insensitively (RFC 8659 §4.1) but travel as written, as BIND keeps them.
      return { flags, tag, value, issuerCritical: (flags & 128) !== 0 } satisfies CaaRdata;
    }
    case 'SOA':
      needs(type, tokens, 7);
      return {
        mname: parseName(t(0), origin),
        rname: parseName(t(1), origin),
        serial: parseUint(t(2), 'SOA serial', 4294967295),
        refresh: parseTtlField(t(3)),
        retry: parseTtlField(t(4)),
        expire: parseTtlField(t(5)),
        minimum: parseTtlField(t(6)),
      } satisfies SoaRdata;
  }
}

function parseTtlField(raw: string): number {
  // BIND accepts units in the SOA timers and any 32-bit value.
  if (/^[0-9]+$/.test(raw)) return parseUint(raw, 'SOA timer', 4294967295);
  return parseTtl(raw);
}

/**
 * Rdata in presentation format (as in a zone file or a DNSRecord `values` entry) →
 * canonical rdata. Throws RdataError with a reason such as "SRV needs 4 fields, got 3".
 */
export function parseRdata(type: string, text: string, origin?: string): unknown {
  const upper = type.toUpperCase();
  if (!isSupportedType(upper)) throw new RdataError(`unsupported type ${type}`);
  let tokens: Token[];
  try {
    const entries = tokenize(text.replace(/\n/g, ' '));
    tokens = entries.flatMap((e) => e.tokens);
  } catch (e) {
    throw new RdataError(e instanceof LexError ? e.reason : String(e));
  }
  return parseRdataTokens(upper, tokens, origin === undefined ? undefined : canonicalName(origin));
}

/** One record from presentation-format parts. */
export function recordFromText(name: string, type: string, ttl: number, rdata: string, origin?: string): RR {
  const owner = parseName(name, origin === undefined ? undefined : canonicalName(origin));
  return canonicalRR({ name: owner, type, ttl, data: parseRdata(type, rdata, origin) });
}

/** A name in presentation format: absolute, with the trailing dot. */
export function formatName(name: string): string {
  return name === '' ? '.' : `${name}.`;
}

/** Quotes a character-string, escaping `"`, `\` and non-printable octets as \DDD. */
export function quoteString(b: Buffer): string {
  let s = '"';
  for (const c of b) {
    if (c === 0x22 || c === 0x5c) s += `\\${String.fromCharCode(c)}`;
    else if (c < 0x20 || c >= 0x7f) s += `\\${String(c).padStart(3, '0')}`;
    else s += String.fromCharCode(c);
  }
  return `${s}"`;
}

/** Rdata in presentation format, as BIND prints it. */
export function formatRdata(rr: Pick<RR, 'type' | 'data'>): string {
  const d = canonicalData(rr.type, rr.data);
  switch (rr.type) {
    case 'A':
    case 'AAAA':
      return d as string;
    case 'CNAME':
    case 'NS':
    case 'PTR':
      return formatName(d as string);
    case 'MX': {
      const mx = d as MxRdata;
      return `${mx.preference} ${formatName(mx.exchange)}`;
    }
    case 'SRV': {
      const s = d as SrvRdata;
      return `${s.priority} ${s.weight} ${s.port} ${formatName(s.target)}`;
    }
    case 'TXT':
      return (d as Buffer[]).map(quoteString).join(' ');
    case 'CAA': {
      const c = d as CaaRdata;
      return `${c.flags} ${c.tag} ${quoteString(Buffer.from(c.value, 'utf8'))}`;
    }
    case 'SOA': {
      const s = d as SoaRdata;
      return `${formatName(s.mname)} ${formatName(s.rname)} ${s.serial} ${s.refresh} ${s.retry} ${s.expire} ${s.minimum}`;
    }
    default: {
      const wire = rdataCodec(rr.type).encode(d);
      return `\\# ${wire.length - 2} ${wire.subarray(2).toString('hex')}`;
    }
  }
}

/** A whole record in presentation format: `name. ttl IN TYPE rdata`. */
export function formatRR(rr: RR): string {
  return `${formatName(rr.name)} ${rr.ttl} IN ${rr.type} ${formatRdata(rr)}`;
}
