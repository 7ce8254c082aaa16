/**
 * RFC 1035 §5 master files: directives ($ORIGIN, $TTL), relative names, blank owners,
 * optional class, TTL units, every type dnssync serves. A bad file is refused as a whole
 * with the file name, line and reason.
 */
import { readFile } from 'node:fs/promises';
import { canonicalName, type RR } from './rr.js';
import { canonicalRR, type SoaRdata } from './rdata.js';
import { isSupportedType, looksLikeTtl, parseName, parseRdataTokens, parseTtl, RdataError } from './presentation.js';
import { LexError, tokenize, type Entry } from './tokens.js';

export { formatRdata, formatRR, parseRdata, parseName, parseTtl, RdataError } from './presentation.js';

export class MasterFileError extends Error {
  override readonly name = 'MasterFileError';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(`${file}:${line}: ${reason}`);
  }
}

export interface MasterFileOptions {
  /** Initial origin (like named-checkzone's zone argument); `$ORIGIN` overrides it. */
  origin?: string;
  /** Name used in error messages. */
  file?: string;
  /** TTL for records without one when no $TTL and no earlier TTL is known. */
  defaultTtl?: number;
}

const CLASSES = new Set(['IN', 'CH', 'HS', 'CS', 'NONE', 'ANY']);

/** Parses master-file text into canonical records (file order). */
export function parseMasterFile(text: string, options: MasterFileOptions = {}): RR[] {
  const file = options.file ?? '<zone>';
  let entries: Entry[];
  try {
    entries = tokenize(text);
  } catch (e) {
    if (e instanceof LexError) throw new MasterFileError(file, e.line, e.reason);
    throw e;
  }
  let origin = options.origin === undefined ? undefined : canonicalName(options.origin);
  // TTL defaulting as BIND does it: a default TTL comes from $TTL or, when the SOA itself
  // has no TTL and none is known yet, from the SOA's minimum; without a default, a record
  // takes the last TTL stated (RFC 1035 semantics).
  let defaultTtl: number | undefined;
  let lastTtl: number | undefined = options.defaultTtl;
  let lastOwner: string | undefined;
  const out: RR[] = [];

  for (const entry of entries) {
    try {
      const toks = entry.tokens;
      const first = toks[0];
      if (first === undefined) continue;
      if (!entry.blankOwner && !first.quoted && first.raw.startsWith('$')) {
        const directive = first.raw.toUpperCase();
        if (directive === '$ORIGIN') {
          if (toks.length !== 2) throw new RdataError('$ORIGIN needs one name');
          const raw = toks[1]?.raw ?? '';
          origin = parseName(raw, origin);
        } else if (directive === '$TTL') {
          if (toks.length !== 2) throw new RdataError('$TTL needs one value');
          defaultTtl = parseTtl(toks[1]?.raw ?? '');
        } else if (directive === '$INCLUDE') {
          throw new RdataError('$INCLUDE is not supported: put the records in this file');
        } else {
          throw new RdataError(`unsupported directive ${first.raw}`);
        }
        continue;
      }

      let i = 0;
      let owner: string;
      if (entry.blankOwner) {
        if (lastOwner === undefined) throw new RdataError('no owner name: the first record must name its owner');
        owner = lastOwner;
      } else {
        owner = parseName(first.raw, origin);
        i = 1;
      }
      let ttl: number | undefined;
      let cls: string | undefined;
      // TTL and class may come in either order (RFC 1035 §5.1).
      for (let k = 0; k < 2; k++) {
        const t = toks[i];
        if (t === undefined || t.quoted) break;
        if (ttl === undefined && looksLikeTtl(t.raw)) {
          ttl = parseTtl(t.raw);
          i++;
        } else if (cls === undefined && CLASSES.has(t.raw.toUpperCase())) {
          cls = t.raw.toUpperCase();
          i++;
        }
      }
      if (cls !== undefined && cls !== 'IN') throw new RdataError(`class ${cls} is not supported (only IN)`);
      const typeTok = toks[i];
      if (typeTok === undefined) throw new RdataError('missing type');
      const type = typeTok.raw.toUpperCase();
      if (!isSupportedType(type)) throw new RdataError(`unsupported type ${typeTok.raw}`);
      const data = parseRdataTokens(type, toks.slice(i + 1), origin);
      if (ttl === undefined) {
        ttl = defaultTtl ?? lastTtl;
        if (ttl === undefined && type === 'SOA') {
          ttl = (data as SoaRdata).minimum;
          defaultTtl = ttl;
        }
        if (ttl === undefined) throw new RdataError('no TTL: give one or set $TTL');
      }
      lastTtl = ttl;
      lastOwner = owner;
      out.push(canonicalRR({ name: owner, type, ttl, data }));
    } catch (e) {
      if (e instanceof RdataError) throw new MasterFileError(file, entry.line, e.reason);
      throw e;
    }
  }
  return unifyRRsetTtls(out);
}

/**
 * RFC 2181 §5.2: all records of an RRset share one TTL. Like BIND, the first record's
 * TTL wins.
 */
function unifyRRsetTtls(records: RR[]): RR[] {
  const first = new Map<string, number>();
  return records.map((rr) => {
    const key = `${rr.name}\u0000${rr.type}`;
    const ttl = first.get(key);
    if (ttl === undefined) {
      first.set(key, rr.ttl);
      return rr;
    }
    return ttl === rr.ttl ? rr : { ...rr, ttl };
  });
}

/** Reads and parses a master file; errors name the file. */
export async function readMasterFile(path: string, options: Omit<MasterFileOptions, 'file'> = {}): Promise<RR[]> {
  const text = await readFile(path, 'utf8');
  return parseMasterFile(text, { ...options, file: path });
}
