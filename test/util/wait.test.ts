import { describe, expect, it } from 'vitest';
import { waitFor, WaitTimeoutError } from './wait.js';

describe('waitFor', () => {
  it('returns the first value that is not pending', async () => {
    let n = 0;
    const v = await waitFor(() => (++n >= 3 ? `done after ${n}` : undefined), { intervalMs: 1 });
    expect(v).toBe('done after 3');
  });

  it('treats a thrown error as not yet, and awaits promises', async () => {
    let n = 0;
    const v = await waitFor(
      async () => {
        n++;
        if (n < 3) throw new Error('not up');
        return n;
      },
      { intervalMs: 1 },
    );
    expect(v).toBe(3);
  });

  it('times out with a message naming what it waited for and the last error', async () => {
    const err = await waitFor(
      () => {
        throw new Error('connection refused');
      },
      { timeoutMs: 30, intervalMs: 5, what: 'the API server' },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect((err as Error).message).toMatch(/waiting for the API server; last error: connection refused/);
    expect((err as WaitTimeoutError).attempts).toBeGreaterThan(1);
  });

  it('stops when aborted', async () => {
    const ac = new AbortController();
    const p = waitFor(() => false, { timeoutMs: 10_000, intervalMs: 1_000, signal: ac.signal });
    ac.abort(new Error('test over'));
    await expect(p).rejects.toThrow('test over');
  });
});
