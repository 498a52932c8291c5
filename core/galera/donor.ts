// Galera donor choice, pure: which node of a cluster a backup reads from, and why the others
// were passed over. The activities read the nodes' state; this decides.

/** One node as the activities found it. */
export interface GaleraNodeState {
  host: string;
  /** False when the node's server did not answer (the error says why). */
  reachable: boolean;
  error?: string;
  /** wsrep_local_state_comment: Synced, Donor/Desynced, Joining, … */
  state?: string;
  /** wsrep_local_state: 4 is Synced. */
  localState?: number;
  /** wsrep_cluster_status: Primary or non-Primary. */
  clusterStatus?: string;
  ready?: boolean;
  clusterSize?: number;
  clusterUuid?: string;
  /** wsrep_last_committed: the node's seqno. */
  seqno?: number;
  /** Growth of wsrep_local_commits over the sampling interval: transactions this node originated. */
  localCommitsDelta?: number;
  /** @@wsrep_desync. */
  desync?: boolean;
  /** The backup id in osbackup's desync marker on the host, when one is there. */
  desyncMarker?: string | null;
  recvQueue?: number;
}

export interface DonorPolicy {
  nodes: string[];
  /** The node the cloud sends its writes to (Kolla: haproxy's active backend). Unset: observed. */
  writer?: string;
  /** Tried first, in this order; the other nodes follow in `nodes` order. */
  prefer: string[];
}

export interface DonorChoice {
  /** Healthy nodes in the order they are tried; the writer last, and only when it is healthy. */
  candidates: string[];
  writer: string | null;
  /** How the writer was known: the config, the observed commits, or not at all. */
  writerFrom: 'config' | 'observed' | 'none';
  /** Every node passed over, with the reason. */
  skipped: { host: string; reason: string }[];
}

/** Why a node may not serve as a donor, or null when it may. */
export function unhealthyReason(n: GaleraNodeState): string | null {
  if (!n.reachable) return `not answering (${n.error ?? 'no reason given'})`;
  if (n.clusterStatus !== 'Primary')
    return `not in the primary component (wsrep_cluster_status ${n.clusterStatus ?? 'unknown'})`;
  if (n.ready === false) return 'wsrep_ready is OFF';
  if (n.desync)
    return `already desynced (wsrep_desync ON${n.desyncMarker ? `, left by osbackup backup ${n.desyncMarker}` : ', by someone else'})`;
  if (n.state !== 'Synced') return `not Synced (${n.state ?? 'unknown state'})`;
  return null;
}

/**
 * The writer is the configured one; else the only node whose local commits grew while it was
 * watched (a tie or no growth: unknown — nothing is avoided on a guess).
 */
export function findWriter(
  states: GaleraNodeState[],
  policy: DonorPolicy,
): { writer: string | null; from: DonorChoice['writerFrom'] } {
  if (policy.writer) return { writer: policy.writer, from: 'config' };
  const grew = states
    .filter((s) => (s.localCommitsDelta ?? 0) > 0)
    .sort((a, b) => (b.localCommitsDelta ?? 0) - (a.localCommitsDelta ?? 0));
  if (grew.length === 0 || (grew.length > 1 && grew[0]!.localCommitsDelta === grew[1]!.localCommitsDelta))
    return { writer: null, from: 'none' };
  return { writer: grew[0]!.host, from: 'observed' };
}

export function chooseDonors(
  states: GaleraNodeState[],
  policy: DonorPolicy,
  exclude: readonly string[] = [],
): DonorChoice {
  const { writer, from } = findWriter(states, policy);
  const byHost = new Map(states.map((s) => [s.host, s]));
  const order = [
    ...policy.prefer.filter((h) => policy.nodes.includes(h)),
    ...policy.nodes.filter((h) => !policy.prefer.includes(h)),
  ];
  const skipped: DonorChoice['skipped'] = [];
  const healthy: string[] = [];
  for (const host of order) {
    const s = byHost.get(host);
    const why = exclude.includes(host)
      ? 'failed as the donor earlier in this backup'
      : s
        ? unhealthyReason(s)
        : 'not examined';
    if (why) skipped.push({ host, reason: why });
    else healthy.push(host);
  }
  // the writer serves only when no other node can: a desynced writer still takes writes, but
  // the backup's I/O then competes with the cloud's transactions
  const candidates = [...healthy.filter((h) => h !== writer), ...healthy.filter((h) => h === writer)];
  return { candidates, writer, writerFrom: from, skipped };
}

/** xtrabackup_galera_info: "<cluster uuid>:<seqno>" (10.11 may add " <gtid>"). */
export function parseGaleraInfo(text: string): { clusterUuid: string; seqno: number } | null {
  const first = text.trim().split(/\s+/)[0] ?? '';
  const m = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}):(-?\d+)$/i.exec(first);
  return m ? { clusterUuid: m[1]!, seqno: Number(m[2]) } : null;
}

/** What a Galera backup's manifest records. */
export interface GaleraManifestSection {
  clusterUuid: string;
  /** The seqno the backup is consistent at (grastate.dat's seqno on a restore). */
  seqno: number;
  donor: string;
  writer: string | null;
  writerFrom: DonorChoice['writerFrom'];
  /** Donors that failed mid-backup before this one finished it. */
  failedDonors: string[];
  /** Each node as seen when the donor was chosen. */
  nodes: { host: string; state: string; seqno: number | null }[];
}
