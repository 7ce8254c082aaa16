/**
 * RFC 1035 §5.1 lexing: splits master-file text into entries (logical lines) of tokens,
 * handling comments, quoted strings, backslash escapes and parentheses that continue an
 * entry across lines. Escapes are kept in the token text; each consumer decodes them,
 * because names and character-strings decode differently.
 */

export interface Token {
  /** The token as written, escapes included, quotes removed. */
  readonly raw: string;
  readonly quoted: boolean;
}

export interface Entry {
  /** 1-based line the entry starts on. */
  readonly line: number;
  /** The entry starts with blank space: its owner is the previous owner. */
  readonly blankOwner: boolean;
  readonly tokens: Token[];
}

/** A lexing failure at a line. */
export class LexError extends Error {
  override readonly name = 'LexError';
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** All entries of `text` (see `entries`). */
export function tokenize(text: string): Entry[] {
  return [...entries(text)];
}

/** True for the bytes that end an unquoted token. */
function endsToken(c: number): boolean {
  // space, tab, CR, LF, ';', '(', ')', '"'
  return c === 32 || c === 9 || c === 13 || c === 10 || c === 59 || c === 40 || c === 41 || c === 34;
}

/**
 * The entries of `text` one at a time: a caller that consumes them as they come (the zone
 * loader) never holds more than one entry's tokens, so loading a 100,000-record file does
 * not first build 100,000 entries that V8 would then keep as heap. Tokens without escapes
 * are one slice of the text, not a string grown a character at a time.
 */
export function* entries(text: string): Generator<Entry> {
  let line = 1;
  let depth = 0;
  let parenLine = 0;
  let tokens: Token[] = [];
  let entryLine = 1;
  let blankOwner = false;
  let atLineStart = true;
  let i = 0;
  const n = text.length;

  while (i < n) {
    const c = text.charCodeAt(i);
    if (atLineStart && depth === 0) {
      atLineStart = false;
      entryLine = line;
      blankOwner = c === 32 || c === 9 || c === 13;
    }
    if (c === 10) {
      line++;
      i++;
      if (depth === 0) {
        if (tokens.length > 0) {
          yield { line: entryLine, blankOwner, tokens };
          tokens = [];
        }
        atLineStart = true;
      }
      continue;
    }
    if (c === 32 || c === 9 || c === 13) {
      i++;
      continue;
    }
    if (c === 59) {
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? n : nl;
      continue;
    }
    if (c === 40) {
      if (depth === 0) parenLine = line;
      depth++;
      i++;
      continue;
    }
    if (c === 41) {
      if (depth === 0) throw new LexError(line, "')' without '('");
      depth--;
      i++;
      continue;
    }
    if (c === 34) {
      const start = line;
      let raw = '';
      i++;
      for (;;) {
        if (i >= n) throw new LexError(start, 'unterminated quoted string');
        const q = text.charAt(i);
        if (q === '"') {
          i++;
          break;
        }
        if (q === '\n') throw new LexError(start, 'unterminated quoted string');
        if (q === '\\' && i + 1 < n) {
          raw += q + text.charAt(i + 1);
          i += 2;
          continue;
        }
        raw += q;
        i++;
      }
      tokens.push({ raw, quoted: true });
      continue;
    }
    const start = i;
    while (i < n) {
      const d = text.charCodeAt(i);
      // A backslash escapes the next character (kept in the token), except a line end.
      if (d === 92 && i + 1 < n && text.charCodeAt(i + 1) !== 10) {
        i += 2;
        continue;
      }
      if (endsToken(d)) break;
      i++;
    }
    tokens.push({ raw: text.slice(start, i), quoted: false });
  }
  if (depth > 0) throw new LexError(parenLine, "'(' without ')'");
  if (tokens.length > 0) yield { line: entryLine, blankOwner, tokens };
}
