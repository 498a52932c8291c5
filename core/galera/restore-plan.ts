// Galera cluster restore, pure: which node bootstraps the new cluster and which rejoin, the
// grastate.dat the bootstrap node starts from, what "restored" means per node, and what an
// operator is told when the restore stops half-way. The workflow and the activities decide
// nothing of this themselves.

/** A Galera cloud's restore-relevant config, as the worker reads it. */
export interface ClusterRestoreSettings {
  /** clouds.<cloud>.database.galera.nodes, in config order. */
  nodes: string[];
  /** Per node: its start command, and its bootstrap command when it has one (argv joined, for messages). */
  commands: Record<string, { start: string; stop: string; bootstrap: string | null; datadir: string }>;
}

export interface ClusterRestorePlan {
  bootstrap: string;
  /** Rejoin one at a time, in config order: each full SST loads the bootstrap node. */
  joiners: string[];
  /** Stopped before anything is restored: joiners first, the bootstrap node last. */
  stopOrder: string[];
}

export class ClusterRestorePlanError extends Error {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
  }
}

/**
 * The bootstrap node is the one asked for, else the first configured node that has a
 * bootstrap command (config order is the operator's preference). Every node is stopped: a live
 * one would keep the old cluster's primary component alive and the new one could not form.
 */
export function planClusterRestore(
  cloud: string,
  settings: ClusterRestoreSettings | null,
  wanted?: string,
): ClusterRestorePlan {
  if (!settings)
    throw new ClusterRestorePlanError(
      `cloud ${cloud} is not a Galera cluster (clouds.${cloud}.database has no galera section)`,
      'restore a single server with `osbackup restore db --to <host>`, or add clouds.<cloud>.database.galera.nodes if it is a cluster',
    );
  const { nodes, commands } = settings;
  const capable = nodes.filter((n) => commands[n]?.bootstrap);
  let bootstrap: string;
  if (wanted !== undefined) {
    if (!nodes.includes(wanted))
      throw new ClusterRestorePlanError(
        `--bootstrap ${wanted} is not a node of ${cloud}'s cluster (${nodes.join(', ')})`,
        `name one of ${nodes.join(', ')}`,
      );
    if (!commands[wanted]?.bootstrap)
      throw new ClusterRestorePlanError(
        `${wanted} has no bootstrap command (clouds.${cloud}.hosts.${wanted}.mariadb.bootstrapCommand)`,
        `set it to the command that starts MariaDB there with --wsrep-new-cluster${capable.length ? `, or bootstrap from ${capable.join(' or ')}` : ''}`,
      );
    bootstrap = wanted;
  } else {
    if (capable.length === 0)
      throw new ClusterRestorePlanError(
        `no node of ${cloud}'s cluster has a bootstrap command`,
        `set clouds.${cloud}.hosts.<node>.mariadb.bootstrapCommand on at least one node (the command that starts MariaDB there with --wsrep-new-cluster)`,
      );
    bootstrap = capable[0]!;
  }
  const joiners = nodes.filter((n) => n !== bootstrap);
  return { bootstrap, joiners, stopOrder: [...joiners, bootstrap] };
}

/** The position a restored node starts the new cluster from (the backup's --galera-info). */
export interface BootstrapPosition {
  clusterUuid: string;
  seqno: number;
}

/** No recorded position (a backup of a single server, an imported one): Galera starts a new history. */
export const UNKNOWN_POSITION: BootstrapPosition = { clusterUuid: '00000000-0000-0000-0000-000000000000', seqno: -1 };

/**
 * grastate.dat for the bootstrap node: the backup's cluster UUID and seqno (the data is exactly
 * that state, so the new cluster continues its history) and safe_to_bootstrap 1 (Galera refuses
 * --wsrep-new-cluster without it once the file exists). A stale node of the old cluster that
 * was not wiped then finds its seqno ahead of the group's and aborts instead of joining with
 * diverged data.
 */
export function grastateText(p: BootstrapPosition): string {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(p.clusterUuid))
    throw new Error(`not a cluster UUID: ${p.clusterUuid}`);
  if (!Number.isInteger(p.seqno) || p.seqno < -1) throw new Error(`not a seqno: ${p.seqno}`);
  return `# GALERA saved state\nversion: 2.1\nuuid:    ${p.clusterUuid}\nseqno:   ${p.seqno}\nsafe_to_bootstrap: 1\n`;
}

/** wsrep_local_state 4 = Synced. */
export const SYNCED = 4;

export interface NodeCheck {
  host: string;
  reachable: boolean;
  clusterSize?: number;
  localState?: number;
  clusterStatus?: string;
}

/** Why a node is not a healthy member of a cluster of `size`, or null. */
export function clusterProblem(n: NodeCheck, size: number): string | null {
  if (!n.reachable) return `${n.host} does not answer`;
  const bad: string[] = [];
  if (n.clusterSize !== size) bad.push(`wsrep_cluster_size ${n.clusterSize ?? '?'} (want ${size})`);
  if (n.localState !== SYNCED) bad.push(`wsrep_local_state ${n.localState ?? '?'} (want ${SYNCED}, Synced)`);
  if (n.clusterStatus !== 'Primary') bad.push(`wsrep_cluster_status ${n.clusterStatus ?? '?'} (want Primary)`);
  return bad.length ? `${n.host}: ${bad.join(', ')}` : null;
}

/** Where each node stands, for the progress query and the failure message. */
export type NodeRestoreState =
  | 'running'
  | 'stopping'
  | 'stopped'
  | 'restoring'
  | 'bootstrapped'
  | 'wiped'
  | 'joining'
  | 'synced'
  | 'failed';

/**
 * What to tell the operator when the restore stops after nodes were stopped: which are down,
 * and the commands that bring the cluster back — the bootstrap node first with its bootstrap
 * command (its grastate.dat says safe_to_bootstrap: 1 once the restore wrote it), then the
 * others with their start commands.
 */
export function strandedAdvice(
  plan: ClusterRestorePlan,
  settings: ClusterRestoreSettings,
  down: string[],
  bootstrapped: boolean,
): string {
  if (down.length === 0) return 'every node answers';
  const c = settings.commands;
  const parts = [`not running: ${down.join(', ')}`];
  const first = down.includes(plan.bootstrap) && !bootstrapped;
  if (first) {
    parts.push(
      `start ${plan.bootstrap} first as a new cluster: \`${c[plan.bootstrap]!.bootstrap}\` (if Galera refuses, set safe_to_bootstrap: 1 in ${c[plan.bootstrap]!.datadir}/grastate.dat); its previous data, if the restore had copied back, is in ${c[plan.bootstrap]!.datadir}.before-<backup id>`,
    );
  }
  const others = down.filter((h) => h !== plan.bootstrap);
  if (others.length)
    parts.push(
      `then ${others.map((h) => `${h}: \`${c[h]!.start}\``).join('; ')} (an emptied datadir takes a full SST)`,
    );
  return parts.join('. ');
}
