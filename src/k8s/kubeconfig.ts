/**
 * Loads the cluster credentials: a kubeconfig file when given, otherwise the in-cluster
 * service account (the Deployment case).
 *
 * The KubeConfig returned reuses its connections to the API server. client-node 2.0.1
 * builds a fresh undici Agent inside every `applySecurityAuthentication` (each API call and
 * each watch), so every status patch, event and lease renewal paid a TCP connect and a full
 * TLS handshake, and left the old agent's socket idling until its keep-alive timeout.
 */
import { statSync } from 'node:fs';
import { subscribe } from 'node:diagnostics_channel';
import { KubeConfig, type RequestContext } from '@kubernetes/client-node';
import { counter } from '../observability/metrics.js';

type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

const connections = counter({
  name: 'dnssync_k8s_api_connections_total',
  help: 'Connections (TCP + TLS handshakes) opened to the Kubernetes API server.',
});

/** A file's identity for the cache key: a rotated certificate gets a new mtime or size. */
function fileStamp(path: string | undefined): string {
  if (path === undefined || path === '') return '';
  try {
    const st = statSync(path);
    return `${path}@${st.mtimeMs}:${st.size}`;
  } catch {
    return `${path}@missing`;
  }
}

/**
 * Everything client-node feeds into the dispatcher's TLS options (cluster CA, server name,
 * verification, proxy; user certificate and key). Tokens travel as headers, so they are not
 * part of it and rotate freely under one pooled dispatcher.
 */
export function tlsIdentityKey(kc: KubeConfig): string {
  const c = kc.getCurrentCluster();
  const u = kc.getCurrentUser();
  return JSON.stringify([
    c?.name, c?.server, c?.caData, fileStamp(c?.caFile), c?.skipTLSVerify, c?.tlsServerName, c?.proxyUrl,
    u?.name, u?.certData, fileStamp(u?.certFile), u?.keyData, fileStamp(u?.keyFile),
  ]);
}

export class PooledKubeConfig extends KubeConfig {
  private pooled: { key: string; dispatcher: Dispatcher } | undefined;

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    // The parent still sets the auth headers (tokens may rotate) and a throw-away agent; an
    // undici Agent opens no socket until used, so swapping it out costs nothing.
    await super.applySecurityAuthentication(context);
    const fresh = context.getDispatcher();
    if (fresh === undefined) return; // no TLS options: the global dispatcher, already pooled
    const key = tlsIdentityKey(this);
    if (this.pooled?.key !== key) {
      const old = this.pooled?.dispatcher;
      this.pooled = { key, dispatcher: fresh };
      // Graceful: in-flight requests and open watches finish on the old credentials.
      if (old !== undefined) old.close().catch(() => undefined);
      return;
    }
    context.setDispatcher(this.pooled.dispatcher);
  }
}

let counting = false;

/** Counts new connections to `server` (undici's diagnostics channel) in dnssync_k8s_api_connections_total. */
function countConnections(server: string | undefined): void {
  if (counting || server === undefined) return;
  counting = true;
  let host: string;
  try {
    host = new URL(server).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return;
  }
  subscribe('undici:client:connected', (message) => {
    const params = (message as { connectParams?: { hostname?: string } }).connectParams;
    if (params?.hostname?.replace(/^\[|\]$/g, '') === host) connections.inc();
  });
}

export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new PooledKubeConfig();
  if (path !== undefined && path !== '') kc.loadFromFile(path);
  else kc.loadFromCluster();
  countConnections(kc.getCurrentCluster()?.server);
  return kc;
}
