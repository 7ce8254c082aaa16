// Generates deploy/helm/dnssync/values.schema.json: node deploy/helm/values.schema.gen.mjs > deploy/helm/dnssync/values.schema.json
// (test/deploy/chart.test.ts checks the committed file matches this output).
const str = (description, extra = {}) => ({ type: 'string', description, ...extra });
const bool = (description) => ({ type: 'boolean', description });
const int = (description, extra = {}) => ({ type: 'integer', description, ...extra });
const obj = (description, extra = {}) => ({ type: 'object', description, ...extra });
const arr = (description, items = {}, extra = {}) => ({ type: 'array', description, items, ...extra });
const strict = (description, properties, required = Object.keys(properties)) => ({ type: 'object', description, additionalProperties: false, required, properties });
const port = (description) => int(description, { minimum: 1, maximum: 65535 });
const hostPort = { type: 'string', pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[^:\\[\\]\\s]+):([0-9]{1,5})$' };
const labels = (d) => obj(d, { additionalProperties: { type: 'string' } });
const probe = (d) => strict(d, { periodSeconds: int('Seconds between checks.', { minimum: 1 }), failureThreshold: int('Consecutive failures tolerated.', { minimum: 1 }), timeoutSeconds: int('Timeout of one check.', { minimum: 1 }) });
const sa = strict('ServiceAccount.', { create: bool('Create it.'), name: str('Name; empty: derived.'), annotations: labels('Annotations.') });
const envList = arr('Extra environment variables.', { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1 } } });
const common = {
  resources: obj('Container resources (requests, limits, claims).'),
  podSecurityContext: obj('Pod security context.'),
  securityContext: obj('Container security context.'),
  livenessProbe: probe('Liveness probe on /healthz.'),
  readinessProbe: probe('Readiness probe on /readyz.'),
  priorityClassName: str('priorityClassName.'),
  nodeSelector: labels('Node selector.'),
  tolerations: arr('Tolerations.', { type: 'object' }),
  affinity: obj('Affinity.'),
  podAnnotations: labels('Pod annotations.'),
  podLabels: labels('Pod labels.'),
  terminationGracePeriodSeconds: int('Grace period.', { minimum: 0 }),
  serviceAccount: sa,
  extraArgs: arr('Extra flags.', { type: 'string' }),
  extraEnv: envList,
};
const schema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'dnssync chart values',
  type: 'object',
  additionalProperties: false,
  properties: {
    global: obj('Helm global values (unused).'),
    nameOverride: str('Overrides the chart name.'),
    fullnameOverride: str('Overrides the name prefix.', { maxLength: 52 }),
    commonLabels: labels('Labels on every object.'),
    image: strict('The dnssync image.', {
      repository: str('Repository.', { minLength: 1 }),
      tag: str('Tag; empty: appVersion.'),
      digest: str('Digest.', { pattern: '^$|^sha256:[0-9a-f]{64}$' }),
      pullPolicy: { enum: ['Always', 'IfNotPresent', 'Never'], description: 'imagePullPolicy.' },
    }),
    imagePullSecrets: arr('Pull secrets.', strict('A Secret reference.', { name: str('Secret name.', { minLength: 1 }) })),
    logLevel: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], description: 'Log level.' },
    crds: strict('CRD handling.', { enabled: bool('Install and upgrade the CRDs.'), keep: bool('Keep them on uninstall.') }),
    tsig: strict('TSIG key.', {
      existingSecret: str('Existing Secret name.'),
      existingSecretKey: str('Key in it.', { minLength: 1 }),
      keyName: str('TSIG key name.', { pattern: '^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$' }),
    }),
    controller: strict('The controller Deployment.', {
      replicas: int('Replicas.', { minimum: 1 }),
      leaderElection: strict('Leader election.', { enabled: bool('Elect a leader.'), leaseName: str('Lease name.', { pattern: '^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$' }) }),
      transferPort: port('Transfer/NOTIFY port.'),
      transferListenHost: str('Transfer bind address.', { minLength: 1 }),
      metricsPort: port('Metrics port.'),
      podDisruptionBudget: strict('PDB.', { enabled: bool('Create it.'), minAvailable: { oneOf: [{ type: 'integer', minimum: 0 }, { type: 'string', pattern: '^[0-9]+%$' }], description: 'minAvailable.' } }),
      spreadAcrossNodes: bool('Prefer different nodes.'),
      ...common,
    }),
    agent: strict('The agent DaemonSet.', {
      listen: arr('DNS listen addresses (HOST:PORT).', hostPort, { minItems: 1 }),
      syncPort: port('Sync port.'),
      stateSizeLimit: str('Size limit of the emptyDir keeping synced zones across container restarts.', { pattern: '^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$' }),
      metricsPort: port('Metrics port.'),
      podIPHost: str('The node IP as written in listen addresses.', { minLength: 1 }),
      upstreams: arr('Forwarding upstreams (HOST:PORT); empty: kube-dns.', hostPort),
      kubeDNS: strict("The cluster's DNS Service.", {
        namespace: str('Namespace of the kube-dns Service.', { minLength: 1 }),
        name: str('Name of the kube-dns Service.', { minLength: 1 }),
        clusterIP: str('Its ClusterIP; empty: looked up.', { pattern: '^$|^[0-9.]+$|^[0-9A-Fa-f:]+$' }),
        podSelector: labels('Labels of the kube-dns pods.'),
        clusterDomain: str('Cluster DNS domain.', { pattern: '^[A-Za-z0-9.-]+$' }),
      }),
      supervise: bool('Restart a crashed agent process under a supervisor holding its sockets.'),
      socketKeeper: strict("A container holding the DNS sockets across a crash of the agent's container.", {
        enabled: bool('Run the socket-keeper container (needs agent.supervise).'),
        resources: obj('Its resource requests and limits.'),
        securityContext: obj('Its container security context.'),
      }),
      transparent: strict('Answer on the kube-dns ClusterIP on every node.', {
        enabled: bool('Transparent mode.'),
        upstreamServiceName: str('Name of the second Service selecting the kube-dns pods.', { pattern: '^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$' }),
      }),
      zoneFiles: arr('Static zones.', strict('A master file.', { name: str('File name (no .zone).', { pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' }), content: str('RFC 1035 master file text.', { minLength: 1 }) })),
      command: arr('Agent command.', { type: 'string' }, { minItems: 1 }),
      nodeOptions: str('NODE_OPTIONS for the agent (empty: unset).'),
      extraInitContainers: arr('Init containers.', { type: 'object', required: ['name', 'image'] }),
      updateStrategy: strict('Rolling update.', {
        maxSurge: int('New agents started beside the old ones per node (0 or 1).', { minimum: 0, maximum: 1 }),
        maxUnavailable: { oneOf: [{ type: 'integer', minimum: 0 }, { type: 'string', pattern: '^[0-9]+%$' }], description: 'maxUnavailable (0 with surge).' },
      }),
      nodeNetwork: strict('The agent sets up its node networking.', {
        enabled: bool('Manage interface, addresses and iptables rules.'),
        interface: str('Dummy interface name.', { pattern: '^[A-Za-z0-9_.-]{1,15}$' }),
        fallbackInterface: str('Interface used without the dummy type.', { pattern: '^[A-Za-z0-9_.-]{1,15}$' }),
        iptables: bool('Add the NOTRACK/ACCEPT rules.'),
        iptablesBackend: { type: 'string', enum: ['auto', 'nft', 'legacy'], description: 'iptables backend.' },
        checkInterval: str('Check and repair interval.', { pattern: '^[0-9]+(ms|s|m|h)$' }),
        securityContext: obj('Container security context while nodeNetwork is on.'),
      }),
      handover: strict('Upgrade hand-over between agents of a node.', {
        enabled: bool('Hand over through hostPath.'),
        hostPath: str('Host directory.', { pattern: '^/' }),
        timeout: str('Wait for zones before joining anyway.', { pattern: '^[0-9]+(ms|s|m|h)$' }),
      }),
      minReadySeconds: int('minReadySeconds.', { minimum: 0 }),
      ...common,
    }),
    networkPolicy: strict('NetworkPolicy for the agents.', { enabled: bool('Create it.'), metricsFrom: arr('Peers allowed to scrape metrics.', { type: 'object' }) }),
    metrics: strict('Metrics.', {
      service: strict('Metrics Services.', { enabled: bool('Create them.') }),
      serviceMonitor: strict('ServiceMonitors.', {
        enabled: bool('Create them.'),
        interval: str('Scrape interval.', { pattern: '^[0-9]+(ms|s|m|h)$' }),
        scrapeTimeout: str('Scrape timeout.', { pattern: '^[0-9]+(ms|s|m|h)$' }),
        labels: labels('Extra labels.'),
      }),
      prometheusRule: strict('PrometheusRule with the alerts.', {
        enabled: { enum: ['auto', true, false], description: 'auto (when the CRD is served), true or false.' },
        labels: labels('Extra labels on the object.'),
        ruleLabels: labels('Extra labels on every alert.'),
        selector: str('PromQL label matchers; empty: the release namespace.'),
        thresholds: strict('Alert thresholds.', {
          agentNotReadyFor: str('Duration.', { pattern: '^[0-9]+(s|m|h)$' }),
          zoneBehindSeconds: int('Seconds.', { minimum: 1 }),
          syncErrorsFor: str('Duration.', { pattern: '^[0-9]+(s|m|h)$' }),
          notifyRetryRatio: { type: 'number', minimum: 0, maximum: 1, description: 'Ratio.' },
          cacheMissesPerSecond: { type: 'number', minimum: 0, description: 'Per second.' },
          cacheMissRatio: { type: 'number', minimum: 0, maximum: 1, description: 'Ratio.' },
          forwardFailureRatio: { type: 'number', minimum: 0, maximum: 1, description: 'Ratio.' },
          servfailRatio: { type: 'number', minimum: 0, maximum: 1, description: 'Ratio.' },
          latencyP99Seconds: { type: 'number', exclusiveMinimum: 0, description: 'Seconds.' },
        }),
      }),
    }),
    grafana: strict('Grafana.', { dashboard: strict('Dashboard ConfigMap.', { enabled: bool('Create it.'), labels: labels('Labels.'), annotations: labels('Annotations.') }) }),
  },
};
schema.required = Object.keys(schema.properties).filter((k) => k !== 'global');
process.stdout.write(JSON.stringify(schema, null, 2) + '\n');
