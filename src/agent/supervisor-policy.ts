/**
 * The pure decisions of the agent's supervisor (supervisor.ts): when to restart a crashed
 * agent process, and what the restarted one is told that the first one had to find out.
 */

/** Restart at once the first time, then back off (a crash loop must not spin the CPU). */
export function restartDelayMs(consecutiveCrashes: number): number {
  if (consecutiveCrashes <= 1) return 0;
  return Math.min(5_000, 100 * 2 ** (consecutiveCrashes - 2));
}

/** A process that served this long before it crashed starts the back-off from scratch. */
export const STABLE_MS = 30_000;

export type ExitDecision = 'exit' | 'restart';

/**
 * The agent exits for good when asked to (SIGTERM passed on), or with 2 — a flag or
 * configuration error, which a restart would only repeat. Anything else is a crash.
 */
export function onChildExit(code: number | null, stopping: boolean): ExitDecision {
  if (stopping || code === 2 || code === 0) return 'exit';
  return 'restart';
}

/** Flags whose job a restarted agent must not redo (their answer is passed on instead). */
const RESOLVED_FLAGS = ['upstream-service', 'upstream-resolver', 'upstream-service-timeout'];

function stripFlags(argv: readonly string[], names: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const name = a.replace(/^--/, '').split('=')[0] ?? '';
    if (a.startsWith('--') && names.includes(name)) {
      if (!a.includes('=')) i++;
      continue;
    }
    out.push(a);
  }
  return out;
}

/**
 * argv and environment of a restarted agent. Transparent mode resolves its upstream Service
 * through the kube-dns ClusterIP — which is this node's own sockets, held by the supervisor
 * with nobody reading them while the agent restarts: asking there would wait for itself. The
 * first agent's answer is handed on as plain --upstream instead.
 */
export function restartCommand(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  upstreams: readonly string[] | undefined,
): { argv: string[]; env: Record<string, string | undefined> } {
  if (upstreams === undefined || upstreams.length === 0) return { argv: [...argv], env: { ...env } };
  const out: Record<string, string | undefined> = { ...env };
  for (const f of RESOLVED_FLAGS) delete out[`DNSSYNC_${f.toUpperCase().replace(/-/g, '_')}`];
  out['DNSSYNC_UPSTREAM'] = upstreams.join(',');
  return { argv: stripFlags(stripFlags(argv, RESOLVED_FLAGS), ['upstream']), env: out };
}
