/** Answers the agent makes up itself (errors, refusals), counted as source "local". */
import type { Query } from '../../dns/query.js';
import { errorResponse } from '../response.js';
import { SOURCE_LOCAL, type QueryStats } from '../stats.js';

export class LocalAnswers {
  constructor(
    private readonly stats: QueryStats,
    private readonly maxUdpSize: number,
    /** RA: the agent forwards for its clients (RFC 1035 4.1.1: the server's property). */
    readonly recursionAvailable: boolean,
  ) {}

  reply(buf: Buffer, q: Query, rcode: number): Buffer {
    this.stats.count(SOURCE_LOCAL, rcode);
    return errorResponse(buf, q, rcode, this.maxUdpSize, this.recursionAvailable);
  }
}
