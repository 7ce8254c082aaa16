/**
 * RFC 1035 §5 master files: directives ($ORIGIN, $TTL), relative names, blank owners,
 * optional class, TTL units, every type dnssync serves. A bad file is refused as a whole
 * with the file name, line and reason.
 */
import { readFile } from 'node:fs/promises';
import { canonicalName, type RR } from './rr.js';
import { canonicalRR, type SoaRdata } from './rdata.js';
import { isSupportedType, looksLikeTtl, parseName, parseRdataTokens, parseTtl, RdataError } from './presentation.js';
import { entries, LexError, type Entry } from './tokens.js';

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
  return [...masterFileRecords(text, options)];
}

/**
 * The records of master-file text one at a time, in file order, as parseMasterFile returns
 * them. Nothing but the text and one entry is held while it runs (plus one TTL per RRset
 * for RFC 2181 §5.2), so a large zone can be indexed as it is read instead of first
 * becoming an array of every token and every record: that transient peak is heap V8 keeps.
 * A bad entry throws when reached; a caller that must refuse a bad file as a whole only
 * keeps the result once the iteration has finished.
 */
export function* masterFileRecords(text: string, options: MasterFileOptions = {}): Generator<RR> {
  const file = options.file ?? '<zone>';
  const lex = entries(text);
  const ttls = new RRsetTtls();
  let origin = options.origin === undefined ? undefined : canonicalName(options.origin);
  // TTL defaulting as BIND does it: a default TTL comes from $TTL or, when the SOA itself
  // has no TTL and none is known yet, from the SOA's minimum; without a default, a record
  // takes the last TTL stated (RFC 1035 semantics).
  let defaultTtl: number | undefined;
  let lastTtl: number | undefined = options.defaultTtl;
  let lastOwner: string | undefined;

  for (;;) {
    let next: IteratorResult<Entry>;
    try {
      next = lex.next();
    } catch (e) {
      if (e instanceof LexError) throw new MasterFileError(file, e.line, e.reason);
      throw e;
    }
    if (next.done === true) return;
    const entry = next.value;
    let rr: RR;
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
      rr = canonicalRR({ name: owner, type, ttl, data });
    } catch (e) {
      if (e instanceof RdataError) throw new MasterFileError(file, entry.line, e.reason);
      throw e;
    }
    yield ttls.unify(rr);
  }
}

/**
 * RFC 2181 §5.2: all records of an RRset share one TTL. Like BIND, the first record's
 * TTL wins. Keyed by the owner name string the records already hold (no per-RRset key
 * string): a name with one type costs one map entry.
 */
class RRsetTtls {
  private readonly first = new Map<string, { type: string; ttl: number } | Map<string, number>>();

  unify(rr: RR): RR {
    const seen = this.first.get(rr.name);
    if (seen === undefined) {
      this.first.set(rr.name, { type: rr.type, ttl: rr.ttl });
      return rr;
    }
    let ttl: number | undefined;
    if (seen instanceof Map) {
      ttl = seen.get(rr.type);
      if (ttl === undefined) seen.set(rr.type, rr.ttl);
    } else if (seen.type === rr.type) {
      ttl = seen.ttl;
    } else {
      this.first.set(rr.name, new Map([[seen.type, seen.ttl], [rr.type, rr.ttl]]));
    }
    return ttl === undefined || ttl === rr.ttl ? rr : { ...rr, ttl };
  }
}

/** Reads a master file and returns its records one at a time (masterFileRecords); errors name the file. */
export async function readMasterFileRecords(path: string, options: Omit<MasterFileOptions, 'file'> = {}): Promise<Generator<RR>> {
  const text = await readFile(path, 'utf8');
  return masterFileRecords(text, { ...options, file: path });
}

/** Reads and parses a master file; errors name the file. */
export async function readMasterFile(path: string, options: Omit<MasterFileOptions, 'file'> = {}): Promise<RR[]> {
  const text = await readFile(path, 'utf8');
  return parseMasterFile(text, { ...options, file: path });
}
