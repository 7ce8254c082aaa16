/**
 * What an agent's acknowledgement means for its link (delivery.ts acts on it): in sync, ahead
 * of us (the leadership term decides, fencing.ts), or behind — then either wait for what is
 * already on its way or send again at once.
 */
import type { Inflight } from './agent-links.js';
import { serialGt } from './serials.js';

export type AckStep = 'in-sync' | 'ahead' | 'wait' | 'send';

/** `serial`: what the agent acknowledged; `current`: the zone's serial now; `f`: the NOTIFY outstanding. */
export function ackStep(serial: number, current: number, f: Pick<Inflight, 'lastFrom' | 'lastTo' | 'firstFrom'>): AckStep {
  if (serial === current) return 'in-sync';
  if (serialGt(serial, current)) return 'ahead';
  // Behind. If we already offered a diff from exactly this serial (or a plain NOTIFY) and it
  // is still here, it is pulling or failing: let the backoff pace us. Else catch up at once.
  if (f.lastTo === current && (f.lastFrom === serial || f.lastFrom === undefined)) return 'wait';
  // Part way along a chain of legs: the rest are on their way (a lost one is retried).
  if (f.firstFrom !== undefined && f.lastFrom !== undefined && serialGt(serial, f.firstFrom) && !serialGt(serial, f.lastFrom)) return 'wait';
  return 'send';
}
