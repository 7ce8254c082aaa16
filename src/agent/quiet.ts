/**
 * Leaving a SO_REUSEPORT group without dropping what the kernel already queued for us: a
 * socket's queue (datagrams, or connections not yet accepted) is discarded when it closes,
 * and there is no way to leave the group but to close. So close at the one moment the queue
 * is known to be empty: right after an event-loop turn whose poll phase read nothing (libuv
 * reads until EAGAIN). `setImmediate` keeps the poll from blocking, and the check phase is
 * where we look; closing there leaves a window of microseconds, not a queue.
 */
export function whenQuiet(count: () => number, ready: () => boolean, deadlineMs: number): Promise<void> {
  return new Promise((resolve) => {
    const deadline = Date.now() + deadlineMs;
    let last = count();
    const step = (): void => {
      const now = count();
      if ((now === last && ready()) || Date.now() >= deadline) {
        resolve();
        return;
      }
      last = now;
      setImmediate(step);
    };
    setImmediate(step);
  });
}
