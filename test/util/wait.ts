/**
 * Polling with a deadline: the only way tests wait for something. A sleep guesses how long
 * a thing takes; a poll asks whether it happened, so it is both faster and not flaky.
 *
 *   const ip = await waitFor(() => pod.status?.podIP, { what: 'pod IP', timeoutMs: 10_000 });
 *
 * `fn` returns the awaited value when the condition holds, or `undefined` (or `false`/`null`)
 * while it does not. An exception thrown by `fn` counts as "not yet" and is kept: when the
 * deadline passes, the error message names `what`, the time waited, the attempt count and the
 * last error, so a failing test says what it was waiting for.
 */
export class WaitTimeoutError extends Error {
  override readonly name = 'WaitTimeoutError';
  constructor(
    readonly what: string,
    readonly waitedMs: number,
    readonly attempts: number,
    readonly lastError: unknown,
  ) {
    super(
      `timed out after ${waitedMs} ms (${attempts} attempts) waiting for ${what}` +
        (lastError === undefined ? '' : `; last error: ${describe(lastError)}`),
    );
  }
}

export interface WaitOptions {
  /** Give up after this long (default 10 s). */
  readonly timeoutMs?: number;
  /** Pause between attempts (default 50 ms). */
  readonly intervalMs?: number;
  /** What is being waited for, in words: it becomes the timeout message. */
  readonly what?: string;
  /** Stop early (rejecting with the signal's reason) when aborted. */
  readonly signal?: AbortSignal;
}

type Pending = undefined | null | false;

export async function waitFor<T>(
  fn: () => T | Pending | Promise<T | Pending>,
  opts: WaitOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 50;
  const what = opts.what ?? 'condition';
  const start = Date.now();
  let attempts = 0;
  let lastError: unknown;
  for (;;) {
    opts.signal?.throwIfAborted();
    attempts++;
    try {
      const v = await fn();
      if (v !== undefined && v !== null && v !== false) return v;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    const waited = Date.now() - start;
    if (waited >= timeoutMs) throw new WaitTimeoutError(what, waited, attempts, lastError);
    await pause(Math.min(intervalMs, timeoutMs - waited), opts.signal);
  }
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
