/** Name arithmetic on canonical names (lower-case, no trailing dot, root = ''). */

/** Whether `name` is `origin` or below it. */
export function inZone(name: string, origin: string): boolean {
  if (origin === '') return true;
  if (name.length === origin.length) return name === origin;
  return name.length > origin.length && name.endsWith(origin) && name.charCodeAt(name.length - origin.length - 1) === 46;
}

/** The parent name ('' for a single label; undefined for the root). */
export function parentName(name: string): string | undefined {
  if (name === '') return undefined;
  const dot = name.indexOf('.');
  return dot < 0 ? '' : name.slice(dot + 1);
}

/**
 * The names strictly below `origin` on the way down to `name`, top-down, ending with
 * `name` itself; empty when `name` is the origin. `name` must be in the zone.
 */
export function pathBelow(name: string, origin: string): string[] {
  if (name === origin) return [];
  const relEnd = origin === '' ? name.length : name.length - origin.length - 1;
  const out: string[] = [];
  for (let i = relEnd - 1; i >= 0; i--) {
    if (name.charCodeAt(i) === 46) out.push(name.slice(i + 1));
  }
  out.push(name);
  return out;
}
