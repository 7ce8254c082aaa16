/**
 * The agent's query path as an ordered chain of stages, as CoreDNS chains plugins but without
 * its cost: a stage is one method call that answers (a reply, or a promise of one) or passes
 * (undefined) to the next; nothing is allocated between stages. The handler (handler.ts)
 * reads the query once and walks the chain; what no stage answers is REFUSED.
 *
 * The default chain (chains.ts), in order:
 *   rate limit (when --rate-limit is set) → answer cache → query checks → zones
 *   → per zone forwarding (--forward ZONE=HOST:PORT) → forward cache → forward
 * A new concern (an ACL, a query log) is a new stage in that list, not an edit of the others.
 */
import type { Query } from '../../dns/query.js';

/** A response to send, or null: send nothing (a dropped query). */
export type Reply = Buffer | null;

/** A stage's verdict: a reply (now or later), or undefined to pass the query on. */
export type StageResult = Reply | Promise<Reply> | undefined;

export interface Stage {
  /** For logs and tests: what this stage is. */
  readonly name: string;
  /**
   * `buf`: the query's bytes, `q` what was read of them; `limit`: the largest reply the client
   * takes (its UDP size within ours, or 65535 over TCP); `client`: the address of a UDP
   * client ('' over TCP, where the handshake already proved the address).
   */
  answer(buf: Buffer, q: Query, limit: number, client: string): StageResult;
}
