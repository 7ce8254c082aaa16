/**
 * What `dnssync status` prints, from the DNSZone objects' status (pure: objects and a clock
 * in, text out). One line per zone (serial, agents holding it, agents behind), then one line
 * per agent behind: the node, the zone, the serial it holds, how long it has been behind and
 * the last error. Agents in sync are not listed one by one — at 5,000 nodes they are the
 * NODES count — so what is printed is what needs a person.
 */

export interface StatusZone {
  readonly name: string;
  readonly zone: string;
  readonly serial: number | undefined;
  readonly nodes: string | undefined;
  readonly ready: string | undefined;
  readonly behind: { readonly count: number; readonly agents: readonly StatusAgent[] } | undefined;
}

export interface StatusAgent {
  readonly agent: string;
  readonly node?: string | undefined;
  readonly ready: boolean;
  readonly serial?: number | undefined;
  readonly since: string;
  readonly lastError?: string | undefined;
}

function obj(x: unknown): Record<string, unknown> | undefined {
  return typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Record<string, unknown>) : undefined;
}

function num(x: unknown): number | undefined {
  return typeof x === 'number' ? x : undefined;
}

function str(x: unknown): string | undefined {
  return typeof x === 'string' ? x : undefined;
}

/** A DNSZone as the API returns it → what the table needs (missing fields stay undefined). */
export function decodeStatusZone(raw: unknown): StatusZone | undefined {
  const o = obj(raw);
  const name = str(obj(o?.['metadata'])?.['name']);
  if (name === undefined) return undefined;
  const status = obj(o?.['status']);
  const conditions = Array.isArray(status?.['conditions']) ? (status['conditions'] as unknown[]) : [];
  const ready = conditions.map(obj).find((c) => c?.['type'] === 'Ready');
  const b = obj(status?.['behind']);
  const agents = Array.isArray(b?.['agents']) ? (b['agents'] as unknown[]) : [];
  return {
    name,
    zone: str(obj(o?.['spec'])?.['zone']) ?? '',
    serial: num(status?.['serial']),
    nodes: str(status?.['nodes']),
    ready: str(ready?.['status']),
    behind:
      b === undefined
        ? undefined
        : {
            count: num(b['count']) ?? agents.length,
            agents: agents.flatMap((a) => {
              const x = obj(a);
              const agent = str(x?.['agent']);
              const since = str(x?.['since']);
              if (x === undefined || agent === undefined || since === undefined) return [];
              return [{ agent, node: str(x['node']), ready: x['ready'] === true, serial: num(x['serial']), since, lastError: str(x['lastError']) }];
            }),
          },
  };
}

/** 75 s → "1m15s", 3,700 s → "1h1m". */
export function formatLag(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3))).join('').trimEnd()).join('\n');
}

export function formatStatus(zones: readonly StatusZone[], now: number): string {
  if (zones.length === 0) return 'No DNSZones.\n';
  const sorted = [...zones].sort((a, b) => (a.zone < b.zone ? -1 : a.zone > b.zone ? 1 : 0));
  const out = [
    table([
      ['ZONE', 'SERIAL', 'NODES', 'READY', 'BEHIND'],
      ...sorted.map((z) => [z.zone, z.serial === undefined ? '-' : String(z.serial), z.nodes ?? '-', z.ready ?? '-', z.behind === undefined ? '-' : String(z.behind.count)]),
    ]),
  ];
  const behind = sorted.flatMap((z) => (z.behind?.agents ?? []).map((a) => ({ z, a })));
  if (behind.length === 0) {
    out.push('', 'No agent is behind (for more than 10 s); NODES counts the ready agents serving each zone\'s serial.');
  } else {
    out.push(
      '',
      table([
        ['AGENT', 'NODE', 'ZONE', 'SERIAL', 'LAG', 'READY', 'LAST ERROR'],
        ...behind.map(({ z, a }) => [a.agent, a.node ?? '-', z.zone, a.serial === undefined ? 'none' : String(a.serial), formatLag(now - Date.parse(a.since)), a.ready ? 'true' : 'false', a.lastError ?? '-']),
      ]),
    );
    const left = sorted.reduce((n, z) => n + Math.max(0, (z.behind?.count ?? 0) - (z.behind?.agents.length ?? 0)), 0);
    if (left > 0) out.push(`(${left} more behind, not listed: each zone lists its 20 longest behind)`);
  }
  return out.join('\n') + '\n';
}
