// Single-service restore: one service's schemas as they were at a chosen second, prepared in a
// scratch MariaDB on the scratch host and exported there; then, once an operator approves
// what will be imported, a safety dump of the live schemas, the import into the live server
// (each schema dropped and recreated in one session, the others untouched), the service's
// redeploy command and its check command.
import {
  ApplicationFailure,
  CancellationScope,
  defineQuery,
  defineSignal,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { awaitDecision, noDecision } from './approval.js';
import type { Activities } from '../activities/index.js';
import type { CommandOutcome } from '../activities/service-restore/scratch.js';
import { compactUtc } from '../core/ids.js';
import {
  longStream,
  serverControl,
  shortCall,
  shortActivities,
  dataBoundActivities,
  dataBoundCall,
} from './options.js';
import { Steps } from './progress.js';
import { CLOUD, COMPONENT, TIER } from './search-attributes.js';

const short = shortActivities(shortCall);
const data = dataBoundActivities(dataBoundCall);
const stream = dataBoundActivities(longStream);
const server = dataBoundActivities(serverControl);

export interface RestoreServiceInput {
  cloud: string;
  /** A key of clouds.<cloud>.services. */
  service: string;
  /** UTC ISO time: the schemas as they were at the end of that second. */
  at: string;
  /** Default: a logical dump when one fits, else scratch. */
  via?: 'dump' | 'scratch';
  /** Approve in advance (`--yes`): import as soon as the export is ready. */
  approved?: boolean;
  /** Seconds the approval gate waits for a decision before the run ends as rejected (default 24 h; clouds.<c>.approvalTimeoutHours from the CLI). */
  approvalTimeoutSeconds?: number;
}

/** What an operator approves: shown by the `summary` query once the export is ready. */
export interface ServiceRestoreSummary {
  service: string;
  schemas: string[];
  target: string;
  via: 'dump' | 'scratch';
  why: string;
  /** The artifacts the state comes from (restore chain or dump, then binlog segments). */
  from: { artifacts: string[]; segments: number; replayedTransactions: number; lastEventAt: string | null };
  /** Into which server the export will be imported. */
  into: string;
  export: { host: string; file: string; bytes: number; sha256: string };
  tables: { table: string; rows: number }[];
}

export interface RestoreServiceResult {
  outcome: 'restored' | 'rejected';
  summary: ServiceRestoreSummary;
  rejectReason?: string;
  /** The live schemas just before the import: `mariadb < file` on the live host goes back. */
  safetyDump: { host: string; file: string; bytes: number; sha256: string; schemas: string[] } | null;
  imported: { dbHost: string; bytes: number; seconds: number } | null;
  redeploy: CommandOutcome | null;
  check: CommandOutcome | null;
  /** Live row counts after the import, per table (equal to the summary's, else the workflow fails). */
  liveTables: { table: string; rows: number }[];
  totalSeconds: number;
}

export const approveSignal = defineSignal('approve');
export const rejectSignal = defineSignal<[string?]>('reject');
export const summaryQuery = defineQuery<ServiceRestoreSummary | null>('summary');

export async function restoreServiceWorkflow(input: RestoreServiceInput): Promise<RestoreServiceResult> {
  const info = workflowInfo();
  const t0 = new Date(info.startTime).getTime();
  const { cloud, service } = input;
  upsertSearchAttributes([
    { key: CLOUD, value: cloud },
    { key: COMPONENT, value: 'database' },
    { key: TIER, value: 'restore' },
  ]);
  let decision: { approved: boolean; reason?: string } | null = input.approved ? { approved: true } : null;
  let summary: ServiceRestoreSummary | null = null;
  setHandler(approveSignal, () => void (decision ??= { approved: true }));
  setHandler(rejectSignal, (reason?: string) => void (decision ??= { approved: false, reason: reason ?? 'rejected' }));
  setHandler(summaryQuery, () => summary);
  const steps = new Steps([
    'plan',
    'verify artifacts',
    'stream to scratch host',
    'prepare',
    'start scratch',
    'replay binlogs',
    'export',
    'clean up scratch',
    'approval',
    'safety dump',
    'import',
    'redeploy',
    'check',
    'verify live',
  ]);

  const settings = await steps.run('plan', () => short.serviceRestoreSettings({ cloud, service }));
  const { scratchHost, schemas } = settings;
  const { plan, chain } = await steps.run(
    'plan',
    () => short.repositoryPlanServiceRestore({ cloud, at: input.at, schemas, via: input.via }),
    (r) => r.plan.why,
  );
  const folder = `service-${service}-${compactUtc(new Date(t0))}`;
  const replayPlan = plan.via === 'scratch' ? plan.pitr : plan.replay;
  const segmentIds = replayPlan ? replayPlan.files.flatMap((f) => f.segments) : [];
  const artifacts = plan.via === 'scratch' ? chain.map((m) => m.id) : [plan.dump];

  let exported: Awaited<ReturnType<typeof data.mariadbScratchExport>>;
  let replayed = { transactions: 0, lastEventAt: null as string | null };
  try {
    await steps.run(
      'verify artifacts',
      async () => {
        if (plan.via === 'scratch') await stream.repositoryVerifyChain({ cloud, ids: artifacts });
        else await stream.repositoryVerifyDump({ cloud, dumpId: plan.dump, schemas });
        if (segmentIds.length) await stream.repositoryVerifySegments({ cloud, ids: segmentIds });
      },
      () => `${artifacts.join(', ')}, ${segmentIds.length} binlog segments`,
    );
    await steps.run(
      'stream to scratch host',
      async () => {
        if (plan.via === 'scratch')
          for (const m of chain)
            await stream.mariadbRestoreStream({ cloud, backupId: m.id, targetHost: scratchHost, restorePoint: folder });
        if (replayPlan?.files.length)
          await stream.mariadbStreamBinlogs({
            cloud,
            targetHost: scratchHost,
            restorePoint: folder,
            files: replayPlan.files,
          });
      },
      () => `${plan.via === 'scratch' ? artifacts.join(' → ') : 'binlogs'} to ${scratchHost}`,
    );
    let socket: string;
    if (plan.via === 'scratch') {
      await steps.run('prepare', () =>
        stream.mariadbPrepareChain({
          cloud,
          restorePoint: folder,
          members: chain.map((m) => ({ id: m.id, kind: m.kind, toLsn: m.mariadb.checkpoints.toLsn })),
          targetHost: scratchHost,
        }),
      );
      ({ socket } = await steps.run('start scratch', () =>
        server.mariadbScratchStart({ cloud, host: scratchHost, folder, service, member: chain[0]!.id }),
      ));
    } else {
      // a fresh scratch server gets only the dump's schemas
      ({ socket } = await steps.run('start scratch', () =>
        server.mariadbScratchStart({ cloud, host: scratchHost, folder, service, member: null }),
      ));
      await steps.run(
        'prepare',
        () =>
          stream.mariadbImportDump({ cloud, dumpId: plan.dump, schemas, targetHost: scratchHost, into: { socket } }),
        (r) => `dump ${r.dumpId} loaded (${r.schemas.map((x) => `${x.name}: ${x.tables} tables`).join(', ')})`,
      );
    }
    if (replayPlan?.files.length) {
      const baseGtid = plan.via === 'scratch' ? (chain.at(-1)!.mariadb.binlog?.gtid ?? '') : '';
      // after a dump only its schemas' row events are replayed (the scratch server holds nothing else)
      const into = plan.via === 'scratch' ? { socket } : { socket, databases: schemas };
      const r = await steps.run(
        'replay binlogs',
        () =>
          stream.mariadbReplayBinlogs({
            cloud,
            targetHost: scratchHost,
            restorePoint: folder,
            replay: replayPlan,
            baseGtid,
            into,
          }),
        (x) => `${x.transactions} transactions, last at ${x.lastEventAt ?? '-'}`,
      );
      replayed = { transactions: r.transactions, lastEventAt: r.lastEventAt };
    }
    exported = await steps.run(
      'export',
      () => stream.mariadbScratchExport({ cloud, host: scratchHost, folder, service, schemas }),
      (x) => `${x.bytes} bytes, ${x.tables.length} tables`,
    );
  } catch (e) {
    await CancellationScope.nonCancellable(() =>
      data.mariadbScratchRemove({ cloud, host: scratchHost, folder, keepFiles: false }),
    ).catch(() => undefined);
    throw e;
  }
  // the scratch server is not kept running while an operator decides: the export is all that is needed
  await steps.run('clean up scratch', () =>
    CancellationScope.nonCancellable(() =>
      data.mariadbScratchRemove({ cloud, host: scratchHost, folder, keepFiles: true }),
    ),
  );

  summary = {
    service,
    schemas,
    target: plan.target,
    via: plan.via,
    why: plan.why,
    from: {
      artifacts,
      segments: segmentIds.length,
      replayedTransactions: replayed.transactions,
      lastEventAt: replayed.lastEventAt,
    },
    into: settings.dbHost,
    export: { host: scratchHost, file: exported.file, bytes: exported.bytes, sha256: exported.sha256 },
    tables: exported.tables,
  };
  const s = summary;
  const result = (r: Partial<RestoreServiceResult>): RestoreServiceResult => ({
    outcome: 'restored',
    summary: s,
    safetyDump: null,
    imported: null,
    redeploy: null,
    check: null,
    liveTables: [],
    totalSeconds: (new Date().getTime() - t0) / 1000,
    ...r,
  });

  try {
    await steps.run(
      'approval',
      async () => {
        if (!(await awaitDecision(() => decision !== null, input.approvalTimeoutSeconds)))
          decision = { approved: false, reason: noDecision(input.approvalTimeoutSeconds) };
      },
      () => (decision!.approved ? 'approved' : `rejected: ${decision!.reason}`),
    );
  } catch (e) {
    // cancelled while waiting: nothing live was touched; the export goes too
    await CancellationScope.nonCancellable(() =>
      data.mariadbScratchRemove({ cloud, host: scratchHost, folder, keepFiles: false }),
    ).catch(() => undefined);
    throw e;
  }
  if (!decision!.approved) {
    await CancellationScope.nonCancellable(() =>
      data.mariadbScratchRemove({ cloud, host: scratchHost, folder, keepFiles: false }),
    );
    steps.finish('rejected');
    return result({ outcome: 'rejected', rejectReason: decision!.reason });
  }

  // from here the live server changes: keep what it holds now first
  const safety = await steps.run(
    'safety dump',
    () => stream.mariadbSafetyDumpLive({ cloud, scratchHost, folder, service, schemas }),
    (x) => `${scratchHost}:${x.file} (${x.bytes} bytes)`,
  );
  const goBack = `to go back, run on ${settings.dbHost}: mariadb < ${scratchHost}:${safety.file} (the live ${safety.schemas.join(', ') || 'schemas (none existed)'} before the import; sha256 ${safety.sha256})`;
  const imported = await steps.run(
    'import',
    () => stream.mariadbImportIntoLive({ cloud, scratchHost, file: exported.file, sha256: exported.sha256 }),
    (x) => `${x.bytes} bytes into ${x.dbHost} in ${x.seconds.toFixed(1)} s`,
  );
  const live = await steps.run('verify live', () =>
    data.mariadbCollectFacts({ cloud, tables: exported.tables.map((t) => t.table) }),
  );
  const liveTables = live.tables.map((t) => ({ table: t.table, rows: t.rows }));
  const differ = exported.tables.filter((t) => liveTables.find((l) => l.table === t.table)?.rows !== t.rows);
  if (differ.length)
    throw ApplicationFailure.nonRetryable(
      `after the import, ${settings.dbHost} does not hold the exported rows: ${differ.map((t) => `${t.table} ${liveTables.find((l) => l.table === t.table)?.rows ?? 'missing'} vs ${t.rows}`).join('; ')}. Fix: ${goBack}`,
      'VerificationFailed',
    );

  const commandFailure = (what: 'redeploy' | 'check', o: CommandOutcome) =>
    ApplicationFailure.nonRetryable(
      `the ${what} command of service ${service} (${o.argv0} on ${o.where}) exited ${o.exitCode}${o.stderrTail ? `: ${o.stderrTail}` : ''}. The restored data is in place. Fix: investigate the service; ${goBack}`,
      what === 'check' ? 'ServiceCheckFailed' : 'ServiceRedeployFailed',
    );
  const redeploy = await steps.run(
    'redeploy',
    () => stream.serviceRunCommand({ cloud, service, which: 'redeploy' }),
    (o) => (o ? `${o.argv0} on ${o.where}: exit ${o.exitCode}` : 'none configured'),
  );
  if (redeploy && redeploy.exitCode !== 0) throw commandFailure('redeploy', redeploy);
  const check = await steps.run(
    'check',
    () => stream.serviceRunCommand({ cloud, service, which: 'check' }),
    (o) => (o ? `${o.argv0} on ${o.where}: exit ${o.exitCode}` : 'none configured'),
  );
  if (check && check.exitCode !== 0) throw commandFailure('check', check);
  steps.finish('done');
  return result({ safetyDump: safety, imported, redeploy, check, liveTables });
}
