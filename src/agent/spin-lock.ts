/**
 * A lock in one Int32 word of shared memory, for critical sections of a few hundred bytes
 * between worker threads (the forwarding cache). Plain functions over the word, so the hot
 * path calls them directly with no object or closure per use.
 *
 * The word: 0 free, 1 held, 2 held with a thread asleep on it. Unlock wakes only in state 2:
 * Atomics.notify takes a process-wide lock in V8 even when nobody waits, and every cache hit
 * goes through here. Past a short spin, sleep on the word (the holder may have been
 * descheduled), at most 1 ms at a time.
 */
export function lockWord(h: Int32Array, at: number): void {
  if (Atomics.compareExchange(h, at, 0, 1) === 0) return;
  for (let i = 0; ; i++) {
    if (i < 64) {
      if (Atomics.compareExchange(h, at, 0, 1) === 0) return;
      continue;
    }
    // Announce a sleeper (2) and take the lock if it was free meanwhile; held as 2 then, so
    // the unlock after us wakes whoever else slept.
    if (Atomics.exchange(h, at, 2) === 0) return;
    Atomics.wait(h, at, 2, 1);
  }
}

export function unlockWord(h: Int32Array, at: number): void {
  if (Atomics.exchange(h, at, 0) === 2) Atomics.notify(h, at, 1);
}
