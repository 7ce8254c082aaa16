/**
 * `make controlplane-up`: a control plane for poking at by hand (kubectl, a controller run
 * from a shell). Prints the kubeconfig path and serves until Ctrl-C, then stops everything.
 */
import { startControlPlane } from './controlplane.js';

const cp = await startControlPlane({ removeDirOnStop: process.env['DNSSYNC_KEEP_CONTROLPLANE'] !== '1' });
console.log(`control plane ready: ${cp.server}`);
console.log(`export KUBECONFIG=${cp.kubeconfig}`);
console.log(`logs and data in ${cp.dir}; Ctrl-C stops it`);
const keepAlive = setInterval(() => undefined, 1 << 30);
let stopping = false;
const shutdown = (): void => {
  if (stopping) return;
  stopping = true;
  clearInterval(keepAlive);
  void cp.stop().then(() => process.exit(0));
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
