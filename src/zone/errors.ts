/** Typed failures of the zone model, so callers can tell bad data from a stale diff. */

/** The records do not form a valid zone (SOA, out-of-zone name, CNAME beside data, …). */
export class ZoneError extends Error {
  override readonly name = 'ZoneError';
  constructor(
    readonly origin: string,
    message: string,
  ) {
    super(`zone ${origin || '.'}: ${message}`);
  }
}

/** The diff starts from another serial than the snapshot has: the caller must resync. */
export class DiffBaseError extends Error {
  override readonly name = 'DiffBaseError';
  constructor(
    readonly origin: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`zone ${origin || '.'}: diff starts at serial ${expected}, zone is at ${actual}`);
  }
}

/** A deleted record is absent or an added one already present: the replica has diverged. */
export class DiffConflictError extends Error {
  override readonly name = 'DiffConflictError';
  constructor(
    readonly origin: string,
    message: string,
  ) {
    super(`zone ${origin || '.'}: ${message}`);
  }
}
