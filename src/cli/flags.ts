/**
 * Flag parsing shared by every subcommand. Each flag also reads from DNSSYNC_<NAME> so a
 * manifest can configure the process through `env:`; the command line wins over the
 * environment. Errors are FlagError so main() can print one line and exit 2.
 */
import { isIP } from 'node:net';

export class FlagError extends Error {
  override readonly name = 'FlagError';
}

export interface FlagSpec {
  /** Long name without dashes, e.g. 'sync-listen'. */
  readonly name: string;
  readonly help: string;
  readonly kind: 'string' | 'bool' | 'int' | 'duration';
  /** May be given several times; the environment variable then holds a comma-separated list. */
  readonly repeatable?: boolean;
  readonly required?: boolean;
  readonly default?: string;
  /** Extra check on each raw value; return an error message to refuse it. */
  readonly validate?: (value: string) => string | undefined;
}

export type FlagValue = string | boolean | number | string[];
export type ParsedFlags = Record<string, FlagValue | undefined>;

export function envName(flag: string): string {
  return 'DNSSYNC_' + flag.toUpperCase().replace(/-/g, '_');
}

/** Durations as Go writes them (`500ms`, `10s`, `2m`), or plain seconds; returns milliseconds. */
export function parseDuration(raw: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(n * factor);
}

/** HOST:PORT or [v6]:PORT with a port in 0..65535. */
export function validateHostPort(value: string): string | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(value);
  if (!m || Number(m[2]) > 65535) return `'${value}' is not HOST:PORT`;
  return undefined;
}

/** HOST:PORT where HOST is an IP address (no name to resolve). */
export function ipHostPort(value: string): string | undefined {
  const bad = validateHostPort(value);
  if (bad !== undefined) return bad;
  return isIP(splitHostPort(value).host) === 0 ? `'${value}': host must be an IP address` : undefined;
}

export function splitHostPort(value: string): { host: string; port: number } {
  const i = value.lastIndexOf(':');
  const host = value.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(value.slice(i + 1)) };
}

function convert(spec: FlagSpec, raw: string, source: string): string | boolean | number {
  const where = `${source}`;
  switch (spec.kind) {
    case 'bool':
      if (/^(true|1|yes)$/i.test(raw)) return true;
      if (/^(false|0|no)$/i.test(raw)) return false;
      throw new FlagError(`${where}: '${raw}' is not a boolean`);
    case 'int': {
      if (!/^-?\d+$/.test(raw)) throw new FlagError(`${where}: '${raw}' is not an integer`);
      return Number(raw);
    }
    case 'duration': {
      const ms = parseDuration(raw);
      if (ms === undefined) throw new FlagError(`${where}: '${raw}' is not a duration (e.g. 500ms, 10s, 2m)`);
      return ms;
    }
    case 'string':
      return raw;
  }
}

function check(spec: FlagSpec, raw: string, source: string): void {
  const problem = spec.validate?.(raw);
  if (problem) throw new FlagError(`${source}: ${problem}`);
}

/**
 * Parses argv (without the subcommand) against the specs. Flags are `--name value` or
 * `--name=value`; a bool flag alone means true. Unknown flags and positional words are errors.
 */
export function parseFlags(specs: readonly FlagSpec[], argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ParsedFlags {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const fromArgs = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) throw new FlagError(`unexpected argument '${arg}'`);
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    const spec = byName.get(name);
    if (!spec) throw new FlagError(`--${name}: unknown flag`);
    let value: string;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (spec.kind === 'bool' && (i + 1 >= argv.length || (argv[i + 1] as string).startsWith('--'))) value = 'true';
    else {
      const next = argv[i + 1];
      if (next === undefined) throw new FlagError(`--${name}: needs a value`);
      value = next;
      i++;
    }
    const list = fromArgs.get(name) ?? [];
    if (list.length > 0 && !spec.repeatable) throw new FlagError(`--${name}: given more than once`);
    list.push(value);
    fromArgs.set(name, list);
  }

  const out: ParsedFlags = {};
  for (const spec of specs) {
    const flag = `--${spec.name}`;
    let raws = fromArgs.get(spec.name);
    let source = flag;
    if (!raws) {
      const e = env[envName(spec.name)];
      if (e !== undefined && e !== '') {
        raws = spec.repeatable ? e.split(',').map((s) => s.trim()).filter((s) => s !== '') : [e];
        source = `${envName(spec.name)} (${flag})`;
      }
    }
    if (!raws && spec.default !== undefined) raws = spec.repeatable ? [spec.default] : [spec.default];
    if (!raws || raws.length === 0) {
      if (spec.required) throw new FlagError(`${flag}: required`);
      out[spec.name] = spec.repeatable ? [] : undefined;
      continue;
    }
    for (const r of raws) check(spec, r, source);
    if (spec.repeatable) {
      out[spec.name] = raws.map((r) => String(convert(spec, r, source)));
    } else {
      out[spec.name] = convert(spec, raws[0] as string, source);
    }
  }
  return out;
}

export function usage(command: string, specs: readonly FlagSpec[]): string {
  const lines = [`usage: dnssync ${command} [flags]`, ''];
  for (const s of specs) {
    const rep = s.repeatable ? ' (repeatable)' : '';
    const def = s.default !== undefined ? ` [default ${s.default}]` : '';
    lines.push(`  --${s.name}${rep}  ${s.help}${def}  (env ${envName(s.name)})`);
  }
  return lines.join('\n');
}

/** Typed accessors: the specs guarantee the shape, these just narrow it. */
export const get = {
  str: (f: ParsedFlags, n: string): string | undefined => f[n] as string | undefined,
  list: (f: ParsedFlags, n: string): string[] => (f[n] as string[] | undefined) ?? [],
  num: (f: ParsedFlags, n: string): number | undefined => f[n] as number | undefined,
  bool: (f: ParsedFlags, n: string): boolean => (f[n] as boolean | undefined) ?? false,
};
