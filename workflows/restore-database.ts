// Restore a database backup to a host and prove it: stream back, prepare, stop the server,
// keep the old datadir aside, copy back, start, compare every recorded count and checksum.
import { workflowInfo, upsertSearchAttributes, ApplicationFailure, patched } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { compareFacts, comparisonPassed, firstReading } from '../core/manifest/facts.js';
import type { BootstrapPosition } from '../core/galera/restore-plan.js';
import { MANIFEST_FORMAT, type TableComparison, type VerificationRecord } from '../core/manifest/manifest.js';
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
const serverStop = shortActivities(serverControl);

export interface RestoreDatabaseInput {
  cloud: string;
  targetHost: string;
  /** Default: the newest full backup of the cloud. */
  backupId?: string;
  /** Compare the restored tables with the recorded facts and store a verification record (default true). */
  verify?: boolean;
  /**
   * Point in time (ISO 8601 UTC): restore the newest backup before it, then replay the
   * archived binary logs up to and including that second. Excludes backupId.
   */
  at?: string;
  /** Point in time as a transaction (domain-server-seq): replay up to and including it. Excludes at, position, backupId. */
  gtid?: string;
  /** Point in time as a binlog position ("mysql-bin.000042:1234"): replay every event that starts before it. */
  position?: string;
  /**
   * Galera cluster restore (galeraClusterRestoreWorkflow): after the copy back, grastate.dat gets
   * this position with safe_to_bootstrap 1 and the server starts with the host's
   * bootstrapCommand, as the first node of a new cluster.
   */
  galeraBootstrap?: BootstrapPosition;
}

export interface PointInTimeResult {
  target: string;
  base: string;
  stopDatetime: string | null;
  stopGtid?: string | null;
  stopPosition?: number | null;
  segments: number;
  files: string[];
  lastGtid: string | null;
  lastEventAt: string | null;
  transactions: number;
  gtidSlavePos: string | null;
  replaySeconds: number;
}

export interface RestoreDatabaseResult {
  backupId: string;
  targetHost: string;
  asideDir: string | null;
  verification: VerificationRecord['result'] | 'SKIPPED';
  /** Why nothing was compared when verification was asked for (an imported backup records no facts). */
  verificationNote?: string;
  tables: TableComparison[];
  /** The chain restored, full backup first. */
  chain: string[];
  timings: { streamSeconds: number; prepareSeconds: number; copyBackSeconds: number; totalSeconds: number };
  pointInTime: PointInTimeResult | null;
}

export async function restoreDatabaseWorkflow(input: RestoreDatabaseInput): Promise<RestoreDatabaseResult> {
  const info = workflowInfo();
  const t0 = new Date(info.startTime).getTime();
  const { cloud, targetHost } = input;
  const verify = input.verify ?? true;
  upsertSearchAttributes([
    { key: CLOUD, value: cloud },
    { key: COMPONENT, value: 'database' },
    { key: TIER, value: 'restore' },
  ]);
  const targets = [input.at, input.gtid, input.position].filter((x) => x !== undefined).length;
  if (targets > 0 && input.backupId)
    throw ApplicationFailure.nonRetryable(
      'give either a backup id or a point in time, not both. Fix: drop --backup; the newest backup before the target is chosen',
      'ConfigInvalid',
    );
  if (targets > 1)
    throw ApplicationFailure.nonRetryable('give one point-in-time target: --at, --gtid or --position', 'ConfigInvalid');
  const pitr = targets === 1;
  const steps = new Steps([
    'plan',
    'verify chain',
    ...(pitr ? ['verify binlogs'] : []),
    'stream to host',
    'prepare',
    ...(pitr ? ['stream binlogs'] : []),
    'stop server',
    'copy back',
    ...(input.galeraBootstrap ? ['write grastate.dat'] : []),
    'start server',
    'verify',
    ...(pitr ? ['replay binlogs'] : []),
    'clean up',
  ]);

  // Plan and check the whole chain (and the binlog segments) before anything on the target is touched.
  const planned = await steps.run(
    'plan',
    async () =>
      pitr
        ? short.repositoryPlanPointInTime({ cloud, at: input.at, gtid: input.gtid, position: input.position })
        : { chain: await short.repositoryPlanRestore({ cloud, backupId: input.backupId }), replay: null },
    (p) =>
      p.chain.map((m) => m.id).join(' → ') +
      (p.replay
        ? ` + ${p.replay.files.reduce((n, f) => n + f.segments.length, 0)} binlog segments to ${p.replay.target}`
        : ''),
  );
  const { chain, replay } = planned;
  const manifest = chain[chain.length - 1]!;
  const full = chain[0]!;
  const backupId = manifest.id;
  const segmentIds = replay ? replay.files.flatMap((f) => f.segments) : [];
  // Each member is hashed while it streams to the host, and a corrupt one fails its stream before
  // the server is stopped: one read of the repository instead of two. Runs started before read
  // the whole chain first.
  if (patched('hash-while-streaming')) steps.drop('verify chain');
  else
    await steps.run(
      'verify chain',
      () => stream.repositoryVerifyChain({ cloud, ids: chain.map((m) => m.id) }),
      (r) => `${chain.length} artifacts, ${r.bytes} bytes hashed`,
    );
  if (replay)
    await steps.run(
      'verify binlogs',
      () => stream.repositoryVerifySegments({ cloud, ids: segmentIds }),
      (r) => `${segmentIds.length} segments, ${r.bytes} bytes hashed`,
    );
  // Transfer and preparation overlap: while the full backup is prepared, the incrementals
  // stream in; each is applied as soon as it is on the host (prepare is idempotent and skips
  // what is already applied). The live datadir is untouched until every member is verified.
  let streamSeconds = 0;
  const members = chain.map((m) => ({ id: m.id, kind: m.kind, toLsn: m.mariadb.checkpoints.toLsn }));
  // The full backup streams alone (preparing it is what everything waits for); then the
  // incrementals two at a time, in chain order.
  const onHost: Promise<void>[] = [];
  let failedStream: unknown; // once one stream fails, the ones not yet started are not started
  chain.forEach((m, i) => {
    const after = i === 0 ? Promise.resolve() : onHost[Math.max(0, i - 2)]!.catch(() => undefined);
    const arrived = after.then(() =>
      i > 0 && failedStream
        ? Promise.reject(failedStream)
        : stream.mariadbRestoreStream({ cloud, backupId: m.id, targetHost, restorePoint: backupId }),
    );
    onHost.push(
      arrived.then(
        (r) => void (streamSeconds += r.seconds),
        (e: unknown) => {
          failedStream ??= e;
          throw e;
        },
      ),
    );
  });
  const streaming = steps.run(
    'stream to host',
    async () => {
      const settled = await Promise.allSettled(onHost); // every started stream has ended
      const bad = settled.find((r) => r.status === 'rejected');
      if (bad) throw bad.reason;
    },
    () => `${chain.length} artifacts in ${streamSeconds.toFixed(1)} s`,
  );
  let prepared: { seconds: number; applied: string[] } = { seconds: 0, applied: [] };
  const landed = chain.map(() => false);
  onHost.forEach(
    (p, i) =>
      void p.then(
        () => (landed[i] = true),
        () => undefined,
      ),
  );
  const preparing = steps.run(
    'prepare',
    async () => {
      // one activity applies every member that has already arrived, in chain order
      for (let i = 0; i < members.length; ) {
        await onHost[i];
        let j = i;
        while (j + 1 < members.length && landed[j + 1]) j++;
        const r = await stream.mariadbPrepareChain({
          cloud,
          restorePoint: backupId,
          members: members.slice(0, j + 1),
          targetHost,
        });
        prepared = { seconds: prepared.seconds + r.seconds, applied: [...prepared.applied, ...r.applied] };
        i = j + 1;
      }
      return prepared;
    },
    (r) => (r.applied.length ? `applied ${r.applied.length} incrementals` : 'full backup prepared'),
  );
  // both settle before anything else happens: no activity is left running behind a failure
  const [streamed, preparedResult] = await Promise.allSettled([streaming, preparing]);
  if (streamed.status === 'rejected') throw streamed.reason;
  if (preparedResult.status === 'rejected') throw preparedResult.reason;
  const req = { cloud, backupId, targetHost };
  if (replay)
    await steps.run(
      'stream binlogs',
      () => stream.mariadbStreamBinlogs({ cloud, targetHost, restorePoint: backupId, files: replay.files }),
      (r) => `${r.bytes} bytes of ${replay.files.map((f) => f.file).join(', ')}`,
    );
  // From here the target's data changes; the old datadir is kept aside, never deleted.
  await steps.run('stop server', () => serverStop.mariadbStopServer({ cloud, host: targetHost }));
  const copied = await steps.run(
    'copy back',
    () => stream.mariadbCopyBack({ cloud, restorePoint: backupId, fullId: full.id, targetHost }),
    (r) => (r.asideDir ? `previous data kept in ${r.asideDir}` : 'datadir was empty'),
  );
  // A backup whose facts come from the backup and that no restore has verified yet: this restore
  // reads them, exact at the backup's LSN, and keeps them as the reference once every listed
  // table is there and readable.
  const listed = manifest.factsFrom === 'backup' && manifest.tables.length === 0 ? manifest.listedTables : undefined;
  let tables: TableComparison[] = [];
  let verification: RestoreDatabaseResult['verification'] = 'SKIPPED';
  // the scratch copy is no longer needed once copied back: remove it while the server starts
  // (a replay still needs the binlog files in it: then it goes last)
  let cleaning: Promise<void> | undefined = replay
    ? undefined
    : steps.run('clean up', () => data.mariadbRemoveRestoreDir(req));
  let pointInTime: PointInTimeResult | null = null;
  try {
    const bootstrap = input.galeraBootstrap;
    if (bootstrap)
      await steps.run(
        'write grastate.dat',
        () => short.galeraWriteBootstrapState({ cloud, host: targetHost, position: bootstrap }),
        () => `${bootstrap.clusterUuid}:${bootstrap.seqno}, safe_to_bootstrap: 1`,
      );
    await steps.run(
      'start server',
      () => server.mariadbStartServer({ cloud, host: targetHost, ...(bootstrap ? { bootstrap: true } : {}) }),
      bootstrap ? () => 'bootstrapped a new cluster (--wsrep-new-cluster)' : undefined,
    );
    // an imported backup carries no facts (nobody read them when it was taken): there is
    // nothing to compare, and a restore that compared nothing is not VERIFIED.
    if (verify && (manifest.tables.length > 0 || listed?.length)) {
      verification = await steps.run('verify', async () => {
        const restored = await data.mariadbCollectFacts({
          cloud,
          host: targetHost,
          tables: (listed ?? manifest.tables).map((t) => t.table),
        });
        tables = listed ? firstReading(listed, restored.tables) : compareFacts(manifest.tables, restored.tables);
        const result = comparisonPassed(tables) ? 'VERIFIED' : 'FAILED';
        if (listed && result === 'VERIFIED')
          await short.repositoryWriteReferenceFacts({
            facts: {
              formatVersion: MANIFEST_FORMAT,
              backupId,
              cloud,
              toLsn: manifest.mariadb.checkpoints.toLsn,
              readAt: new Date().toISOString(),
              host: targetHost,
              workflowId: info.workflowId,
              serverVersion: restored.serverVersion,
              tables: restored.tables,
            },
          });
        const record: VerificationRecord = {
          formatVersion: MANIFEST_FORMAT,
          backupId,
          cloud,
          verifiedAt: new Date().toISOString(),
          workflowId: info.workflowId,
          targetHost,
          result,
          artifactSha256Matched: true, // the stream step fails otherwise
          tablesCompared: tables.filter((t) => t.outcome !== 'unstable').length,
          tables,
        };
        await short.repositoryWriteVerification({ record });
        return result;
      });
    }
    if (replay && verification !== 'FAILED') {
      const r = await steps.run(
        'replay binlogs',
        () =>
          stream.mariadbReplayBinlogs({
            cloud,
            targetHost,
            restorePoint: backupId,
            replay,
            baseGtid: manifest.mariadb.binlog?.gtid ?? '',
          }),
        (x) => `${x.transactions} transactions replayed, last ${x.lastGtid ?? 'none'} at ${x.lastEventAt ?? '-'}`,
      );
      pointInTime = {
        target: replay.target,
        base: replay.base,
        stopDatetime: replay.stopDatetime,
        stopGtid: replay.stopGtid ?? null,
        stopPosition: replay.stopPosition ?? null,
        segments: segmentIds.length,
        files: replay.files.map((f) => f.file),
        lastGtid: r.lastGtid,
        lastEventAt: r.lastEventAt,
        transactions: r.transactions,
        gtidSlavePos: r.gtidSlavePos,
        replaySeconds: r.seconds,
      };
    }
  } finally {
    cleaning ??= steps.run('clean up', () => data.mariadbRemoveRestoreDir(req));
    await cleaning.catch(() => undefined); // never left running; a failed removal leaves only scratch files
  }
  steps.finish(verification === 'FAILED' ? 'verification failed' : 'done');
  if (verification === 'FAILED') {
    const bad = tables
      .filter((t) => t.outcome === 'different' || t.outcome === 'missing' || t.outcome === 'unreadable')
      .map(
        (t) =>
          `${t.table}: ${t.outcome} (rows ${t.actualRows ?? '-'} vs ${t.expectedRows ?? '-'}, checksum ${t.actualChecksum ?? '-'} vs ${t.expectedChecksum ?? '-'})`,
      );
    throw ApplicationFailure.nonRetryable(
      `restore of ${backupId} to ${targetHost} did not reproduce the recorded data: ${bad.join('; ')}. Fix: do not trust this backup; restore an earlier one and investigate`,
      'VerificationFailed',
    );
  }
  return {
    backupId,
    targetHost,
    asideDir: copied.asideDir,
    verification,
    ...(verify && manifest.tables.length === 0 && !listed?.length
      ? {
          verificationNote: `${backupId} records no table facts${manifest.imported ? ` (imported from ${manifest.imported.source})` : ''}: nothing to compare; check the data yourself`,
        }
      : {}),
    tables,
    chain: chain.map((m) => m.id),
    timings: {
      streamSeconds,
      prepareSeconds: prepared.seconds,
      copyBackSeconds: copied.seconds,
      totalSeconds: (new Date().getTime() - t0) / 1000,
    },
    pointInTime,
  };
}
