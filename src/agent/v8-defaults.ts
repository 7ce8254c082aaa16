/**
 * The V8 heap settings the agent runs with unless the operator chose their own.
 *
 * Node's defaults suit a short-lived, allocation-heavy program: the young generation grows
 * to 2 × 32 MiB semi-spaces and the old generation is allowed to grow well past what is
 * live before it is collected. For a long-running DaemonSet pod holding one large, slowly
 * changing data set that is the wrong trade: measured with 100,000 records (every name
 * queried once), the agent sat at 175-226 MB RSS with Node's defaults against 89-99 MB with
 * these settings, at the same QPS and — since the agent stopped watching every collection
 * (observability/metrics.ts) — the same authoritative p99 at 20,000 queries/s (0.109 /
 * 0.157 / 0.172 ms with these, 0.134 / 0.157 / 0.153 with Node's, in three `make
 * bench-query` runs). Cached forwards, which allocate more per answer, keep a longer tail
 * with these (0.15-0.41 ms against 0.12-0.18). An operator who wants Node's behaviour back
 * runs the agent with DNSSYNC_V8_DEFAULTS=0, or with their own --max-semi-space-size.
 *
 * - `--max-semi-space-size=1`: a 1 MiB semi-space. Scavenge cost is proportional to what
 *   survives, not to the space's size, and the hot path allocates little, so scavenges get
 *   more frequent but not longer.
 * - `--optimize-for-size`: grow the old generation in small steps and let the memory
 *   reducer give pages back after a zone load or a burst of cache churn. It also keeps the
 *   young generation at ~1 MiB whatever the semi-space flags say (measured: with
 *   --min/--max-semi-space-size=8 beside it the new space stays at 1-2 MiB).
 *
 * What these cost in tail latency (measured at 20,000 QPS, test/bench/dgram-floor.ts as the
 * reference): a Node UDP server doing no DNS work has a p99 of ~0.08-0.16 ms with or
 * without them, and so does the agent now that no PerformanceObserver watches every
 * collection (see observability/metrics.ts: with prom-client's GC metric the agent's p99
 * was 0.24-0.5 ms under these flags). Memory-reducing full collections every few seconds
 * still show in the p99.9 (2-4 ms pauses with a 10,000-record zone). A young generation
 * fixed at 2 × 8 MiB without --optimize-for-size costs 126-132 MB RSS with 100,000
 * records; Node's defaults ~220 MB.
 *
 * - `--no-maglev`: no mid-tier optimising compiler. A hot function goes from Sparkplug's
 *   baseline code straight to TurboFan, as the agent's few hot paths (query parse, store
 *   lookup, answer write) all reach TurboFan within seconds of load anyway. Maglev's own
 *   compiled code, its compilation zones and the compiler's pages of the node binary cost
 *   5-6 MB of RSS at the 10,000-name workload (measured: 84.0-87.2 MB after load with it,
 *   79.4-81.1 MB without, three runs each, test/bench/query.ts's workload).
 *
 * The re-executed process also gets MALLOC_ARENA_MAX=1 (unless set): glibc gives every
 * thread that mallocs (V8's GC helpers and compiler threads, libuv's pool) its own arena,
 * whose freed chunks stay resident; two arenas measured ~4 MB less RSS than glibc's default
 * at 100,000 records, and one arena another ~3 MB at the 10,000-name workload (80.8-81.9 MB
 * after load with two, 76.8-80.7 with one). The query path itself mallocs on the main thread
 * only, so the lock the threads now share is not on it. Other C libraries ignore the
 * variable.
 *
 * These are process-wide V8 flags fixed when the isolate is created, so they cannot be set
 * from inside the program (v8.setFlagsFromString changes them too late to take full
 * effect): `dnssync agent` re-executes itself once with them (process.execve, same PID, so
 * signals and the container runtime see one process). A flag the operator already gave —
 * on the command line or in NODE_OPTIONS, including its --no- form — is left alone, and
 * DNSSYNC_V8_DEFAULTS=0 turns the whole thing off.
 */

export const AGENT_V8_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--optimize-for-size', '--no-maglev'];

/** Set in the environment of the re-executed process, so it never loops. */
export const REEXEC_MARK = 'DNSSYNC_V8_DEFAULTS_APPLIED';

/** Environment the re-executed process gets in addition to ours, where not already set. */
export function envDefaults(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  return env['MALLOC_ARENA_MAX'] === undefined ? { MALLOC_ARENA_MAX: '1' } : {};
}

/** `--foo-bar=1` / `--foo_bar` / `--no-foo-bar` → `foo-bar`. */
function flagName(flag: string): string {
  let name = flag.replace(/^--?/, '').split('=')[0] ?? '';
  name = name.replace(/_/g, '-');
  return name.startsWith('no-') ? name.slice(3) : name;
}

/**
 * The flags of AGENT_V8_FLAGS to add, given the node flags already in effect (execArgv and
 * NODE_OPTIONS) and the environment: none when disabled or already applied.
 */
export function v8FlagsToAdd(execArgv: readonly string[], env: Readonly<Record<string, string | undefined>>): string[] {
  if (env[REEXEC_MARK] !== undefined || env['DNSSYNC_V8_DEFAULTS'] === '0') return [];
  const given = new Set([...execArgv, ...(env['NODE_OPTIONS'] ?? '').split(/\s+/)].filter((f) => f.startsWith('-')).map(flagName));
  return AGENT_V8_FLAGS.filter((f) => !given.has(flagName(f)));
}

/**
 * Replaces this process with the same command plus the missing V8 flags; returns (doing
 * nothing) when there is nothing to add or the platform has no execve.
 */
export function reexecWithV8Defaults(): void {
  const add = v8FlagsToAdd(process.execArgv, process.env);
  if (add.length === 0 || typeof process.execve !== 'function') return;
  const args = [process.execPath, ...process.execArgv, ...add, ...process.argv.slice(1)];
  process.execve(process.execPath, args, { ...process.env, ...envDefaults(process.env), [REEXEC_MARK]: add.join(' ') });
}
