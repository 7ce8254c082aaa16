/** DNS over TCP framing: dns/framing.ts, under the name the sync engine's modules import. */
export { frame, readFrames } from '../dns/framing.js';
