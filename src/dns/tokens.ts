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

function isSpace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\r';
}

export function tokenize(text: string): Entry[] {
  const entries: Entry[] = [];
  let line = 1;
  let depth = 0;
  let parenLine = 0;
  let tokens: Token[] = [];
  let entryLine = 1;
  let blankOwner = false;
  let atLineStart = true;
  let i = 0;
  const n = text.length;

  const endEntry = (): void => {
    if (tokens.length > 0) entries.push({ line: entryLine, blankOwner, tokens });
    tokens = [];
  };

  while (i < n) {
    const c = text.charAt(i);
    if (atLineStart && depth === 0) {
      atLineStart = false;
      entryLine = line;
      blankOwner = isSpace(c);
    }
    if (c === '\n') {
      line++;
      i++;
      if (depth === 0) {
        endEntry();
        atLineStart = true;
      }
      continue;
    }
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (c === ';') {
      while (i < n && text.charAt(i) !== '\n') i++;
      continue;
    }
    if (c === '(') {
      if (depth === 0) parenLine = line;
      depth++;
      i++;
      continue;
    }
    if (c === ')') {
      if (depth === 0) throw new LexError(line, "')' without '('");
      depth--;
      i++;
      continue;
    }
    if (c === '"') {
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
    let raw = '';
    while (i < n) {
      const d = text.charAt(i);
      if (d === '\\' && i + 1 < n && text.charAt(i + 1) !== '\n') {
        raw += d + text.charAt(i + 1);
        i += 2;
        continue;
      }
      if (isSpace(d) || d === '\n' || d === ';' || d === '(' || d === ')' || d === '"') break;
      raw += d;
      i++;
    }
    tokens.push({ raw, quoted: false });
  }
  if (depth > 0) throw new LexError(parenLine, "'(' without ')'");
  endEntry();
  return entries;
}
