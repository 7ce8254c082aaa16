/**
 * Child process of the push bench: hosts many dnssync agents (a DNS server plus the sync
 * secondary over one shared ZoneStore, exactly as `dnssync agent` wires them), one per
 * loopback address. It reports each zone change the moment it lands in a store, stamped
 * with the wall clock at sub-millisecond resolution (the parent compares across processes).
 *
 * IPC in:  {cmd:'start', hosts, port?, key, statics?}   out: {ev:'ready', agents:[{host,syncPort,dnsPort}]}
 * IPC out: {ev:'batch', events:[{ev:'applied', host, origin, serial, t}]}
 */
import { Agent } from '../../src/agent/agent.js';
import { configureLogger } from '../../src/observability/logger.js';
import { Secondary, type StaticZone } from '../../src/sync/secondary.js';
import { ZoneStore } from '../../src/zone/store.js';
import type { TsigKey } from '../../src/dns/tsig.js';

interface StartMsg {
  cmd: 'start';
  hosts: string[];
  /** Sync port of every agent (0: any free one). */
  port?: number;
  key: { name: string; algorithm: TsigKey['algorithm']; secret: string };
  statics?: StaticZone[];
}

configureLogger('warn');
const now = (): number => performance.timeOrigin + performance.now();
const send = (m: object): void => {
  process.send?.(m);
};

const running: { agent: Agent; sec: Secondary }[] = [];

// Apply events leave in batches: one IPC message per event loop turn, not one per agent, so
// reporting does not slow down the agents it measures (the stamp is taken before batching).
let batch: object[] = [];
function report(ev: object): void {
  if (batch.length === 0) setImmediate(() => {
    send({ ev: 'batch', events: batch });
    batch = [];
  });
  batch.push(ev);
}

process.on('message', (raw) => {
  const m = raw as StartMsg | { cmd: 'stop' };
  if (m.cmd === 'stop') {
    void Promise.all(running.map(async (r) => {
      await r.sec.close();
      await r.agent.stop(0);
    })).then(() => process.exit(0));
    return;
  }
  void (async () => {
    const key: TsigKey = { name: m.key.name, algorithm: m.key.algorithm, secret: Buffer.from(m.key.secret, 'base64') };
    const out = [];
    for (const host of m.hosts) {
      const store = new ZoneStore();
      store.onChange((change) => {
        if (change.kind === 'set') report({ ev: 'applied', host, origin: change.origin, serial: change.snapshot.serial, t: now() });
      });
      const agent = await Agent.start({ listen: [{ host, port: 0 }], upstreams: [], store, answerCacheEntries: 1000 });
      const sec = await Secondary.start({ store, host, port: m.port ?? 0, keys: [key], statics: m.statics ?? [], notifyAnswerWaitMs: 1500 });
      running.push({ agent, sec });
      out.push({ host, syncPort: sec.address.port, dnsPort: agent.addresses[0]?.port ?? 0 });
    }
    send({ ev: 'ready', agents: out });
  })();
});

process.on('disconnect', () => process.exit(0));
