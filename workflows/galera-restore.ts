// Galera cluster restore: a new cluster from a backup. Plan (bootstrap node, joiners, the
// chain), wait for an operator's approval, stop MariaDB on every node, restore the chain to the
// bootstrap node through restoreDatabaseWorkflow (which writes grastate.dat with the backup's
// position and safe_to_bootstrap 1, starts the node with --wsrep-new-cluster and compares the
// recorded facts), then empty each other node's datadir and start it so it joins by full SST,
// one at a time; finally every node must be Synced in a Primary component of all nodes, with
// the recorded row counts and checksums.
import {
  ApplicationFailure,
  CancellationScope,
  defineQuery,
  executeChild,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { awaitDecision, noDecision } from './approval.js';
import type { Activities } from '../activities/index.js';
import { compareFacts, comparisonPassed } from '../core/manifest/facts.js';
import {
  ClusterRestorePlanError,
  clusterProblem,
  planClusterRestore,
  strandedAdvice,
  UNKNOWN_POSITION,
  type BootstrapPosition,
  type ClusterRestorePlan,
  type ClusterRestoreSettings,
  type NodeRestoreState,
} from '../core/galera/restore-plan.js';
import type { RecordedTableFact, TableComparison } from '../core/manifest/manifest.js';
import { serverControl, shortCall, shortActivities, dataBoundActivities, dataBoundCall } from './options.js';
import { Steps } from './progress.js';
import { restoreDatabaseWorkflow, type RestoreDatabaseResult } from './restore-database.js';
import { approveSignal, rejectSignal } from './restore-service.js';
import { CLOUD, COMPONENT, TIER } from './search-attributes.js';

const short = shortActivities(shortCall);
const data = dataBoundActivities(dataBoundCall);
const server = dataBoundActivities(serverControl);
const serverStop = shortActivities(serverControl);
// a full SST of a large database takes as long as it takes: bounded by heartbeats and this;
// one more attempt after a lost worker (starting a started node and waiting again is harmless)
const joining = dataBoundActivities({
  ...serverControl,
  startToCloseTimeout: '6 hours',
  retry: { ...serverControl.retry, maximumAttempts: 2 },
});

export interface GaleraClusterRestoreInput {
  cloud: string;
  /** Default: the newest restore point. */
  backupId?: string;
  /** Point in time (ISO 8601 UTC): the newest backup before it, plus the archived binlogs (replayed on the bootstrap node before the others join). */
  at?: string;
  /** Default: the first configured node with a bootstrapCommand. */
  bootstrap?: string;
  /** Approve in advance (`--yes`). */
  approved?: boolean;
  /** Seconds the approval gate waits for a decision before the run ends as rejected (default 24 h; clouds.<c>.approvalTimeoutHours from the CLI). */
  approvalTimeoutSeconds?: number;
  /** Seconds a joiner may take to reach Synced (its full SST included). Default 1800. */
  joinTimeoutSeconds?: number;
}

/** What an operator approves: shown by the `summary` query once planned. */
export interface ClusterRestoreSummary {
  cloud: string;
  nodes: string[];
  bootstrap: string;
  joiners: string[];
  chain: string[];
  backupId: string;
  /** The backup's recorded cluster position (grastate.dat of the new cluster), null when it records none. */
  position: BootstrapPosition | null;
  donor: string | null;
  at: string | null;
  tables: number;
}

export interface ClusterNodeResult {
  host: string;
  role: 'bootstrap' | 'joiner';
  clusterSize: number | null;
  localState: number | null;
  clusterStatus: string | null;
  tables: TableComparison[];
  /** Seconds from start command to Synced (joiners; their SST included). */
  joinSeconds: number | null;
}

export interface GaleraClusterRestoreResult {
  outcome: 'restored' | 'rejected';
  summary: ClusterRestoreSummary;
  rejectReason?: string;
  restore: RestoreDatabaseResult | null;
  nodes: ClusterNodeResult[];
  /** What the facts were compared with: the backup's record, or (point in time) the bootstrap node's. */
  comparedWith: 'manifest' | 'bootstrap node';
  totalSeconds: number;
}

export const clusterSummaryQuery = defineQuery<ClusterRestoreSummary | null>('summary');

export async function galeraClusterRestoreWorkflow(
  input: GaleraClusterRestoreInput,
): Promise<GaleraClusterRestoreResult> {
  const info = workflowInfo();
  const t0 = new Date(info.startTime).getTime();
  const { cloud } = input;
  upsertSearchAttributes([
    { key: CLOUD, value: cloud },
    { key: COMPONENT, value: 'database' },
    { key: TIER, value: 'restore' },
  ]);
  if (input.at && input.backupId)
    throw ApplicationFailure.nonRetryable(
      'give either a backup id or a point in time, not both. Fix: drop --id; the newest backup before --at is chosen',
      'ConfigInvalid',
    );
  let decision: { approved: boolean; reason?: string } | null = input.approved ? { approved: true } : null;
  let summary: ClusterRestoreSummary | null = null;
  setHandler(approveSignal, () => void (decision ??= { approved: true }));
  setHandler(rejectSignal, (reason?: string) => void (decision ??= { approved: false, reason: reason ?? 'rejected' }));
  setHandler(clusterSummaryQuery, () => summary);
  const steps = new Steps([
    'plan',
    'approval',
    'stop every node',
    'restore to the bootstrap node',
    'rejoin the other nodes',
    'verify cluster',
  ]);

  // ---- plan: nothing is touched ----
  const { settings, plan, chain, position } = await steps.run(
    'plan',
    async () => {
      const s = await short.galeraRestoreSettings({ cloud });
      let p: ClusterRestorePlan;
      try {
        p = planClusterRestore(cloud, s, input.bootstrap);
      } catch (e) {
        if (e instanceof ClusterRestorePlanError)
          throw ApplicationFailure.nonRetryable(`${e.message}. Fix: ${e.fix}`, 'ConfigInvalid');
        throw e;
      }
      const c = input.at
        ? (await short.repositoryPlanPointInTime({ cloud, at: input.at })).chain
        : await short.repositoryPlanRestore({ cloud, backupId: input.backupId });
      const g = c[c.length - 1]!.galera ?? null;
      return {
        settings: s as ClusterRestoreSettings,
        plan: p,
        chain: c,
        position: g ? { clusterUuid: g.clusterUuid, seqno: g.seqno } : null,
      };
    },
    (r) => `bootstrap ${r.plan.bootstrap}, then ${r.plan.joiners.join(', ')}; ${r.chain.map((m) => m.id).join(' → ')}`,
  );
  const manifest = chain[chain.length - 1]!;
  const nodeStates = settings.nodes.map((host) => ({
    host,
    role: host === plan.bootstrap ? 'bootstrap' : 'joiner',
    state: 'running' as NodeRestoreState,
  }));
  steps.setNodes(nodeStates);
  const mark = (host: string, state: NodeRestoreState) => void (nodeStates.find((n) => n.host === host)!.state = state);
  summary = {
    cloud,
    nodes: settings.nodes,
    bootstrap: plan.bootstrap,
    joiners: plan.joiners,
    chain: chain.map((m) => m.id),
    backupId: manifest.id,
    position,
    donor: manifest.galera?.donor ?? null,
    at: input.at ?? null,
    tables: manifest.tables.length,
  };
  const done = (
    outcome: GaleraClusterRestoreResult['outcome'],
    rest: Partial<GaleraClusterRestoreResult>,
  ): GaleraClusterRestoreResult => ({
    outcome,
    summary: summary!,
    restore: null,
    nodes: [],
    comparedWith: input.at ? 'bootstrap node' : 'manifest',
    totalSeconds: (new Date().getTime() - t0) / 1000,
    ...rest,
  });

  // ---- approval: the whole cluster goes down next ----
  await steps.run(
    'approval',
    async () => {
      if (!(await awaitDecision(() => decision !== null, input.approvalTimeoutSeconds)))
        decision = { approved: false, reason: noDecision(input.approvalTimeoutSeconds) };
    },
    () => (decision!.approved ? 'approved' : `rejected: ${decision!.reason}`),
  );
  if (!decision!.approved) {
    steps.finish('rejected');
    return done('rejected', { rejectReason: decision!.reason });
  }

  let restore: RestoreDatabaseResult | null = null;
  let bootstrapped = false;
  const joinSeconds: Record<string, number> = {};
  try {
    // Every node: a node left running would keep the old cluster's primary component, and the
    // restored node, bootstrapped beside it, would split the cluster in two.
    await steps.run(
      'stop every node',
      async () => {
        for (const host of plan.stopOrder) {
          mark(host, 'stopping');
          await serverStop.mariadbStopServer({ cloud, host });
          mark(host, 'stopped');
        }
      },
      () => plan.stopOrder.join(', '),
    );
    restore = await steps.run(
      'restore to the bootstrap node',
      async () => {
        mark(plan.bootstrap, 'restoring');
        const r = await executeChild(restoreDatabaseWorkflow, {
          workflowId: `${info.workflowId}:bootstrap`,
          taskQueue: info.taskQueue,
          args: [
            {
              cloud,
              targetHost: plan.bootstrap,
              ...(input.at ? { at: input.at } : { backupId: manifest.id }),
              verify: true,
              galeraBootstrap: position ?? UNKNOWN_POSITION,
            },
          ],
        });
        bootstrapped = true;
        mark(plan.bootstrap, 'bootstrapped');
        return r;
      },
      (r) =>
        `${r.chain.join(' → ')} on ${plan.bootstrap}: ${r.verification}${r.asideDir ? `, previous data in ${r.asideDir}` : ''}`,
    );
    // One joiner at a time: each full SST makes the bootstrap node a donor for its duration.
    await steps.run(
      'rejoin the other nodes',
      async () => {
        for (const host of plan.joiners) {
          await data.galeraWipeNode({ cloud, host });
          mark(host, 'joining');
          const size = plan.joiners.indexOf(host) + 2; // the bootstrap node and the joiners so far
          joinSeconds[host] = (
            await joining.galeraStartJoiner({ cloud, host, size, timeoutSeconds: input.joinTimeoutSeconds ?? 1800 })
          ).seconds;
          mark(host, 'synced');
        }
      },
      () => plan.joiners.map((h) => `${h} in ${joinSeconds[h]!.toFixed(1)} s`).join(', '),
    );
  } catch (e) {
    // Which nodes are down, and how to bring them up, whatever stopped the restore.
    const advice = await CancellationScope.nonCancellable(async () => {
      const states = await short.galeraInspect({ cloud }).catch(() => null);
      const down = states ? states.filter((s) => !s.reachable).map((s) => s.host) : settings.nodes;
      for (const n of nodeStates) if (down.includes(n.host) && n.state !== 'stopped') n.state = 'failed';
      return (
        (states ? '' : 'could not reach the nodes to check them; assuming every node is down. ') +
        strandedAdvice(plan, settings, down, bootstrapped)
      );
    });
    steps.finish('failed');
    // the innermost cause says what went wrong (an activity's failure inside the child restore)
    let root: unknown = e;
    while (root instanceof Error && root.cause instanceof Error) root = root.cause;
    const cause = root instanceof Error ? root.message : String(root);
    throw ApplicationFailure.nonRetryable(
      `cluster restore of ${cloud} stopped: ${cause}. ${advice}`,
      'GaleraRestoreFailed',
    );
  }

  // ---- verify: every node Synced, Primary, in a cluster of all nodes, with the recorded data ----
  const size = settings.nodes.length;
  const nodes = await steps.run(
    'verify cluster',
    async () => {
      let states = await short.galeraInspect({ cloud });
      // the bootstrap node learns of the last joiner a moment after that joiner is Synced
      for (let i = 0; i < 20 && states.some((s) => clusterProblem(s, size)); i++) {
        await sleep('3 seconds');
        states = await short.galeraInspect({ cloud });
      }
      const problems = states.map((s) => clusterProblem(s, size)).filter((p): p is string => p !== null);
      if (problems.length)
        throw ApplicationFailure.nonRetryable(
          `the restored cluster of ${cloud} is not healthy: ${problems.join('; ')}. Fix: read the named nodes' MariaDB error logs; the data is on ${plan.bootstrap}, an unhealthy joiner can be emptied and started again`,
          'GaleraRestoreFailed',
        );
      // a backup whose facts come from the backup and that no restore has read yet: its listed tables
      const unread = manifest.tables.length === 0 && manifest.factsFrom === 'backup';
      const tables = (unread ? (manifest.listedTables ?? []) : manifest.tables).map((t) => t.table);
      const facts = await Promise.all(settings.nodes.map((host) => data.mariadbCollectFacts({ cloud, host, tables })));
      // point in time: the replayed data is newer than any record, so the nodes are compared with
      // the bootstrap node; so are they when the backup's facts were never read
      const expected: RecordedTableFact[] =
        input.at || unread
          ? facts[settings.nodes.indexOf(plan.bootstrap)]!.tables.map((t) => ({ ...t, stable: true }))
          : manifest.tables;
      return settings.nodes.map((host, i): ClusterNodeResult => {
        const s = states.find((x) => x.host === host)!;
        return {
          host,
          role: host === plan.bootstrap ? 'bootstrap' : 'joiner',
          clusterSize: s.clusterSize ?? null,
          localState: s.localState ?? null,
          clusterStatus: s.clusterStatus ?? null,
          tables: compareFacts(expected, facts[i]!.tables),
          joinSeconds: joinSeconds[host] ?? null,
        };
      });
    },
    (r) =>
      `${r.length} nodes Synced; ${r.filter((n) => comparisonPassed(n.tables)).length}/${r.length} with the ${input.at ? "bootstrap node's" : 'recorded'} data`,
  );
  const bad = nodes.filter((n) => !comparisonPassed(n.tables));
  steps.finish(bad.length ? 'verification failed' : 'done');
  if (bad.length) {
    const what = bad.map(
      (n) =>
        `${n.host}: ${
          n.tables
            .filter((t) => t.outcome === 'different' || t.outcome === 'missing')
            .map((t) => `${t.table} ${t.outcome} (rows ${t.actualRows ?? '-'} vs ${t.expectedRows})`)
            .join(', ') || 'nothing comparable'
        }`,
    );
    throw ApplicationFailure.nonRetryable(
      `the restored cluster of ${cloud} does not hold the ${input.at ? "bootstrap node's" : 'recorded'} data on every node: ${what.join('; ')}. Fix: do not put the cluster back in service; restore an earlier backup and investigate`,
      'VerificationFailed',
    );
  }
  return done('restored', { restore, nodes });
}
