// Generated from crds/*.yaml by `make api-types` (test/api/gen-api-types.ts): do not edit.
// test/api/types.test.ts fails when this file and the CRDs disagree.

/** The metadata fields dnssync reads; raw API JSON, so timestamps are strings. */
export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface ListMeta {
  resourceVersion?: string;
  continue?: string;
}

/**
 * The record type, one of A, AAAA, CNAME, TXT, SRV, MX, PTR, NS, CAA.
 */
export const RECORD_TYPES = ["A", "AAAA", "CNAME", "TXT", "SRV", "MX", "PTR", "NS", "CAA"] as const;
/**
 * The record type, one of A, AAAA, CNAME, TXT, SRV, MX, PTR, NS, CAA.
 */
export type RecordType = (typeof RECORD_TYPES)[number];

/**
 * The DNS data this object declares.
 */
export interface DNSRecordSpec {
  /**
   * The owner name, absolute (the trailing dot may be left off), e.g. api.shop.corp.internal.
   * DNS rules apply, not hostname rules: labels of letters, digits, '-' and '_' (as in
   * _http._tcp.shop.corp.internal), a leading '*' label for a wildcard (RFC 4592), each label
   * at most 63 octets and the name at most 253. Case does not matter. It must lie in a DNSZone
   * whose namespaceSelector admits this namespace.
   */
  name: string;
  /**
   * The record type, one of A, AAAA, CNAME, TXT, SRV, MX, PTR, NS, CAA.
   */
  type: RecordType;
  /**
   * Time to live in seconds, 0 to 2147483647 (RFC 2181). Optional: the zone's defaultTTL
   * applies when it is left out. Records merged into one RRset use the lowest TTL among them.
   */
  ttl?: number;
  /**
   * The record data, one RR per value, in zone-file presentation format. A: an IPv4 address
   * (192.0.2.10). AAAA: an IPv6 address (2001:db8::10). CNAME: exactly one value, the canonical
   * name. PTR, NS: a domain name. MX: 'preference exchange' (10 mail.corp.internal.). SRV:
   * 'priority weight port target' (10 5 443 web.corp.internal.). CAA: 'flags tag "value"' (0
   * issue "letsencrypt.org"). TXT: the text itself, unquoted; text longer than 255 octets is
   * split into 255-octet character-strings of one record. Domain names in values follow
   * zone-file rules: with a trailing dot they are absolute; without one they are relative to
   * the zone (mail means mail.corp.internal. in zone corp.internal.), and @ is the zone itself.
   * An RRset must fit one DNS message: TXT or CAA values together at most 60000 characters
   * here, and the records merged into one RRset at most 64000 octets on the wire (about 4000 A
   * values), or the controller refuses the youngest with reason RRsetTooLarge.
   */
  values: string[];
}

/**
 * True, False or Unknown.
 */
export type ConditionStatus = "True" | "False" | "Unknown";

/**
 * A condition in the metav1.Condition shape.
 */
export interface Condition {
  /**
   * The condition type, in CamelCase, e.g. Accepted or Ready.
   */
  type: string;
  /**
   * True, False or Unknown.
   */
  status: ConditionStatus;
  /**
   * The metadata.generation the condition was set for.
   */
  observedGeneration?: number;
  /**
   * When the status last changed.
   */
  lastTransitionTime: string;
  /**
   * A CamelCase word for the last transition, for programs.
   */
  reason: string;
  /**
   * The last transition in words, for people.
   */
  message: string;
}

/**
 * What the controller observed and did; written by the controller only.
 */
export interface DNSRecordStatus {
  /**
   * The metadata.generation this status describes.
   */
  observedGeneration?: number;
  /**
   * The DNSZone (its spec.zone) this record belongs to; empty when it lies in none.
   */
  zone?: string;
  /**
   * How many ready agents serve this generation, out of how many ready agents, e.g. 12/12.
   */
  nodes?: string;
  /**
   * Accepted: the record passed the controller's checks (zone membership, namespace policy,
   * CNAME and ownership conflicts, RRset size); its reason says why not. Ready: every ready
   * agent serves this generation ("applied on 12/12 nodes").
   */
  conditions?: Condition[];
}

/**
 * DNSRecord declares one RRset: the DNS data of one owner name and one type. dnssync pushes it
 * to the node-local DNS cache on every node and reports in status when every node serves it.
 * Several DNSRecords of the same name and type in one namespace merge into one RRset.
 */
export interface DNSRecord {
  apiVersion: 'dnssync.io/v1alpha1';
  kind: 'DNSRecord';
  metadata: ObjectMeta;
  /**
   * The DNS data this object declares.
   */
  spec: DNSRecordSpec;
  /**
   * What the controller observed and did; written by the controller only.
   */
  status?: DNSRecordStatus;
}
export const DNSRecordResource = { group: 'dnssync.io', version: 'v1alpha1', plural: 'dnsrecords', kind: 'DNSRecord', namespaced: true } as const;

export interface DNSRecordList {
  apiVersion: 'dnssync.io/v1alpha1';
  kind: 'DNSRecordList';
  metadata: ListMeta;
  items: DNSRecord[];
}

/**
 * SOA timers (RFC 1035, RFC 2308). Every field is optional; defaults: refresh 60, retry 10,
 * expire 3600, negativeTTL 5.
 */
export interface SOATimers {
  /**
   * Seconds between SOA checks by an agent (or a standard secondary), the safety net behind
   * pushed changes. Default 60.
   */
  refresh?: number;
  /**
   * Seconds before a failed refresh is retried. Default 10.
   */
  retry?: number;
  /**
   * Seconds after which a secondary that cannot reach the primary stops answering for the zone.
   * Default 3600.
   */
  expire?: number;
  /**
   * Seconds a resolver may cache a negative answer (NXDOMAIN or NODATA), the SOA minimum field
   * (RFC 2308). Default 5.
   */
  negativeTTL?: number;
}

/**
 * In, NotIn, Exists or DoesNotExist.
 */
export type LabelSelectorOperator = "In" | "NotIn" | "Exists" | "DoesNotExist";

/**
 * One requirement on a label.
 */
export interface LabelSelectorRequirement {
  /**
   * The label key.
   */
  key: string;
  /**
   * In, NotIn, Exists or DoesNotExist.
   */
  operator: LabelSelectorOperator;
  /**
   * The label values for In and NotIn; empty for Exists and DoesNotExist.
   */
  values?: string[];
}

/**
 * Which namespaces may declare DNSRecords in this zone, by their labels. Absent: every
 * namespace. An empty selector ({}) also matches every namespace.
 */
export interface LabelSelector {
  /**
   * Labels a namespace must have, each with exactly this value.
   */
  matchLabels?: Record<string, string>;
  /**
   * Requirements on a namespace's labels; all must hold.
   */
  matchExpressions?: LabelSelectorRequirement[];
}

/**
 * The zone and its policy.
 */
export interface DNSZoneSpec {
  /**
   * The zone's apex, an absolute domain name (the trailing dot may be left off), e.g.
   * corp.internal. Labels of letters, digits, '-' and '_', each at most 63 octets; the name at
   * most 253. Case does not matter.
   */
  zone: string;
  /**
   * TTL in seconds for records that set none, 0 to 2147483647. Default 30. dnssync pushes
   * changes, so a TTL only bounds how long clients behind the node cache (and caches outside
   * the cluster) may keep an answer.
   */
  defaultTTL?: number;
  /**
   * SOA timers (RFC 1035, RFC 2308). Every field is optional; defaults: refresh 60, retry 10,
   * expire 3600, negativeTTL 5.
   */
  soa?: SOATimers;
  /**
   * Which namespaces may declare DNSRecords in this zone, by their labels. Absent: every
   * namespace. An empty selector ({}) also matches every namespace.
   */
  namespaceSelector?: LabelSelector;
}

export interface DNSZoneStatusBehindAgentsItem {
  /**
   * The agent Pod, namespace/name.
   */
  agent: string;
  /**
   * The node the agent runs on (the Pod's spec.nodeName).
   */
  node?: string;
  /**
   * Whether the agent Pod is Ready.
   */
  ready: boolean;
  /**
   * The serial the agent last acknowledged; absent when it never acknowledged one.
   */
  serial?: number;
  /**
   * Since when the agent has been behind the current serial.
   */
  since: string;
  /**
   * The last thing that went wrong between the controller and this agent for this zone
   * (unanswered NOTIFYs, a refusal, a failed signature, lost data).
   */
  lastError?: string;
}

/**
 * The agents behind the zone's current serial for more than 10 seconds (a push still in flight
 * does not count), longest behind first. `dnssync status` prints them as a table.
 */
export interface DNSZoneStatusBehind {
  /**
   * How many agents are behind; at most 20 of them are listed.
   */
  count: number;
  /**
   * The longest behind of them.
   */
  agents: DNSZoneStatusBehindAgentsItem[];
}

/**
 * What the controller observed and did; written by the controller only.
 */
export interface DNSZoneStatus {
  /**
   * The metadata.generation this status describes.
   */
  observedGeneration?: number;
  /**
   * The SOA serial of the zone's current version (32 bits, RFC 1982 order). It never goes back,
   * not even across a controller failover.
   */
  serial?: number;
  /**
   * How many DNSRecord objects are accepted into the zone.
   */
  records?: number;
  /**
   * How many ready agents serve the current serial, out of how many ready agents, e.g. 12/12.
   */
  nodes?: string;
  /**
   * The agents behind the zone's current serial for more than 10 seconds (a push still in
   * flight does not count), longest behind first. `dnssync status` prints them as a table.
   */
  behind?: DNSZoneStatusBehind;
  /**
   * Ready: every ready agent serves the current serial. Other conditions may report problems
   * with the zone as a whole.
   */
  conditions?: Condition[];
}

/**
 * DNSZone declares a zone that dnssync serves authoritatively on every node (its agents answer
 * for every name in it from the DNSRecords), its SOA timers, and which namespaces may declare
 * records in it. Cluster-scoped: creating zones is for cluster administrators, writing records
 * is for namespaces.
 */
export interface DNSZone {
  apiVersion: 'dnssync.io/v1alpha1';
  kind: 'DNSZone';
  metadata: ObjectMeta;
  /**
   * The zone and its policy.
   */
  spec: DNSZoneSpec;
  /**
   * What the controller observed and did; written by the controller only.
   */
  status?: DNSZoneStatus;
}
export const DNSZoneResource = { group: 'dnssync.io', version: 'v1alpha1', plural: 'dnszones', kind: 'DNSZone', namespaced: false } as const;

export interface DNSZoneList {
  apiVersion: 'dnssync.io/v1alpha1';
  kind: 'DNSZoneList';
  metadata: ListMeta;
  items: DNSZone[];
}
