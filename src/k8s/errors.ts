/**
 * HTTP status of a failed API call or watch, whichever shape client-node gave it
 * (ApiException.code, the watch's statusCode, or a Status object's code).
 */
export function statusCode(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.code === 'number') return e.code;
  if (typeof e.statusCode === 'number') return e.statusCode;
  return undefined;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The apiserver said "410 Gone": the resource version is too old, relist. */
export function isGone(err: unknown): boolean {
  return statusCode(err) === 410;
}

export function isNotFound(err: unknown): boolean {
  return statusCode(err) === 404;
}

export function isConflict(err: unknown): boolean {
  return statusCode(err) === 409;
}

/**
 * The apiserver refused to create an object in a namespace that is being deleted
 * (403 with cause NamespaceTerminating). Nothing in it can be acted on any more.
 */
export function isNamespaceTerminating(err: unknown): boolean {
  if (statusCode(err) !== 403 || typeof err !== 'object' || err === null) return false;
  const body = (err as { body?: unknown }).body;
  const text = typeof body === 'string' ? body : JSON.stringify(body ?? '');
  return text.includes('NamespaceTerminating');
}
