// All activities, built from their dependencies (DESIGN.md §1). Names are verb-first with a
// domain; renaming one breaks running workflows.
import type { CatalogEntry, CatalogListing } from '../core/catalog/catalog.js';
import type { ArtifactDescription } from '../core/catalog/describe.js';
import { gateVerdict, type GateInput, type GateVerdict } from '../core/preflight/preflight.js';
import { Catalog } from './catalog/catalog.js';
import { describeArtifact } from './catalog/describe.js';
import {
  artifactDir,
  RECIPE_FILE,
  type ArtifactManifest,
  type DbFacts,
  type VerificationRecord,
} from '../core/manifest/manifest.js';
import { isDatabaseManifest } from '../core/manifest/any-manifest.js';
import { databaseRestoreRecipe, databaseRestoreScript, RESTORE_SCRIPT } from '../core/manifest/recipe.js';
import { chainTo, newestIntactRestorePoint } from '../core/chain/chain.js';
import { Env, type Deps } from './deps.js';
import { copyArtifact, targetManifests, type CopyArtifactInput, type CopyArtifactResult } from './storage/copy.js';
import { collectGarbage, targetNames } from './storage/target.js';
import { journalPrefix, markTarget, pendingJournals, planTarget, purgeTarget } from './storage/retention.js';
import type { RetentionPlan } from '../core/retention/plan.js';
import { planCopy, promotionSet, type CopyPlan } from '../core/copy/plan.js';
import { fatal, fsFailure, FailureType } from './errors.js';
import { streamBackup, type StreamBackupInput, type StreamBackupResult } from './mariadb/backup.js';
import { collectFacts } from './mariadb/facts.js';
import {
  desyncNode,
  galeraConfig,
  inspectCluster,
  resetLeftoverDesync,
  resyncNode,
  type ResyncResult,
} from './mariadb/galera.js';
import type { DonorPolicy, GaleraNodeState } from '../core/galera/donor.js';
import {
  planPointInTimeRestore,
  replayBinlogsOnHost,
  streamBinlogsToHost,
  verifySegments,
  type ReplayInto,
  type ReplayResult,
  type ReplayStop,
} from './mariadb/binlog-replay.js';
import {
  exportFromScratch,
  importIntoLive,
  removeScratch,
  runServiceCommand,
  safetyDumpLive,
  serviceSettings,
  startScratch,
  type CommandOutcome,
  type ScratchExport,
} from './mariadb/scratch.js';
import { planServiceRestore, type DumpLink, type ServiceRestorePlan } from '../core/service-restore/plan.js';
import { segmentLink } from '../core/pitr/segments.js';
import { isDumpManifest } from '../core/dump/dump.js';
import { isBinlogManifest } from '../core/manifest/any-manifest.js';
import type { ReplayPlan } from '../core/pitr/segments.js';
import { archiveBinlogStep, type ArchiveStepInput, type ArchiveStepResult } from './mariadb/binlog-archive.js';
import {
  mergeBinlogSegments,
  planBinlogCompaction,
  removeBinlogPieces,
  type CompactionPlanResult,
  type MergeInput,
  type MergeResult,
  type RemoveInput,
} from './mariadb/binlog-compact.js';
import { clusterRestoreSettings, startJoiner, wipeNode, writeBootstrapState } from './mariadb/galera-restore.js';
import type { BootstrapPosition, ClusterRestoreSettings } from '../core/galera/restore-plan.js';
import {
  copyBackOnHost,
  findDatabaseBackup,
  planRestore,
  prepareChainOnHost,
  removeRestoreDir,
  serverCommand,
  streamToHost,
  verifyChain,
  waitForServer,
} from './mariadb/restore.js';
import { incrementalBase } from '../core/chain/chain.js';
import { controlPlaneRecipe, partsSums, type ControlPlaneManifest } from '../core/control-plane/control-plane.js';
import {
  backupKeystoneKeys,
  backupKollaConfig,
  backupRabbitmq,
  diffKollaConfig,
  readControlPlane,
  restoreKeystoneKeys,
  restoreKollaConfig,
  restoreRabbitmq,
} from './controlplane/parts.js';
import { createHash } from 'node:crypto';
import { keyFingerprints, gpgVersion } from './crypto/gpg.js';
import { zstdVersion } from './crypto/zstd.js';
import { verifyActivities } from './storage/verify.js';
import { drillActivities } from './drill/drill.js';
import type { ArtifactCheck } from '../core/verify/report.js';
import { openstackActivities } from './openstack/activities.js';
import { drActivities } from './dr/activities.js';
import { importStream, listRemoteFiles, type ImportStreamInput, type ImportStreamResult } from './import/stream.js';
import type { KnownArtifact, ListedFile } from '../core/import/import.js';
import { readFile } from 'node:fs/promises';
import { shQuote } from './ssh/quote.js';
import { withHeartbeat } from './heartbeat.js';
import { dumpStream, type DumpStreamInput, type DumpStreamResult } from './mariadb/dump.js';
import { findDump, importDumpToHost, verifyDumpFiles, type DumpImportResult } from './mariadb/dump-restore.js';
import { dumpRecipe, dumpRestoreScript, dumpSums, type DumpManifest } from '../core/dump/dump.js';
import { recordFailures, recordSuccess } from './catalog/run-journal.js';
import type { RunEndStatus } from '../core/tiers/run-journal.js';

export type { Deps } from './deps.js';
export type { StreamBackupInput, StreamBackupResult } from './mariadb/backup.js';

export function createActivities(deps: Deps) {
  const env = new Env(deps);
  const catalog = new Catalog(env.primary);
  const catalogs = new Map<string, Catalog>([[env.primary.name, catalog]]);
  /** One Catalog per target, so index updates on a target stay serial within this worker. */
  const catalogOf = async (name: string): Promise<Catalog> => {
    let c = catalogs.get(name);
    if (!c) catalogs.set(name, (c = new Catalog(await env.target(name))));
    return c;
  };
  return {
    /** Facts of `host` (default: the cloud's database host). */
    async mariadbCollectFacts(input: { cloud: string; host?: string; tables?: string[] }): Promise<DbFacts> {
      return collectFacts(env, input.cloud, input.host ?? env.cloud(input.cloud).database.host, input.tables);
    },

    async mariadbStreamBackup(input: StreamBackupInput): Promise<StreamBackupResult> {
      return streamBackup(env, input);
    },

    /** The base for the next incremental (newest member of an intact chain), or why there is none. */
    async repositoryFindIncrementalBase(input: { cloud: string }): Promise<{
      base: { id: string; toLsn: string; host?: string } | null;
      problem: string | null;
      autoFull: boolean;
    }> {
      const all = (await env.repo.scanManifests(input.cloud)).filter(isDatabaseManifest);
      const r = incrementalBase(all);
      const autoFull = env.cloud(input.cloud).database.autoFull;
      return 'base' in r
        ? {
            base: { id: r.base.id, toLsn: r.base.mariadb.checkpoints.toLsn, host: r.base.source.host },
            problem: null,
            autoFull,
          }
        : { base: null, problem: r.problem, autoFull };
    },

    /**
     * A Galera cloud's backup plan: null for a single server; else the donor policy, the nodes'
     * state (commits sampled to find the writer), and the desyncs earlier backups left, now reset.
     */
    async galeraPlan(input: { cloud: string }): Promise<{
      policy: DonorPolicy;
      drainTimeoutSeconds: number;
      states: GaleraNodeState[];
      leftovers: { host: string; backupId: string; wasDesynced: boolean }[];
    } | null> {
      const g = env.cloud(input.cloud).database.galera;
      if (!g) return null;
      const leftovers = await resetLeftoverDesync(env, input.cloud, g.drainTimeoutSeconds);
      const states = await inspectCluster(env, input.cloud, g.writer ? 0 : g.writeSampleSeconds);
      return {
        policy: { nodes: g.nodes, writer: g.writer, prefer: g.prefer },
        drainTimeoutSeconds: g.drainTimeoutSeconds,
        states,
        leftovers,
      };
    },

    /** `osbackup status`: each node's wsrep state and seqno, and the newest Galera backup's donor. */
    async galeraStatus(input: { cloud: string }): Promise<{
      nodes: GaleraNodeState[];
      lastBackup: {
        id: string;
        donor: string;
        seqno: number;
        clusterUuid: string;
        completedAt: string;
        failedDonors: string[];
      } | null;
    }> {
      const nodes = await inspectCluster(env, input.cloud, 0);
      const last = (await env.repo.scanManifests(input.cloud))
        .filter(isDatabaseManifest)
        .filter((m) => m.galera)
        .sort((a, b) => a.completedAt.localeCompare(b.completedAt))
        .at(-1);
      const g = last?.galera;
      return {
        nodes,
        lastBackup:
          last && g
            ? {
                id: last.id,
                donor: g.donor,
                seqno: g.seqno,
                clusterUuid: g.clusterUuid,
                completedAt: last.completedAt,
                failedDonors: g.failedDonors,
              }
            : null,
      };
    },

    async galeraInspect(input: { cloud: string }): Promise<GaleraNodeState[]> {
      return inspectCluster(env, input.cloud, 0);
    },

    /** Idempotent: a retry sets it again. The marker on the host is written first. */
    // ---- Galera cluster restore (activities/mariadb/galera-restore.ts) ----

    /** Null when the cloud is not a Galera cluster. */
    async galeraRestoreSettings(input: { cloud: string }): Promise<ClusterRestoreSettings | null> {
      return clusterRestoreSettings(env, input.cloud);
    },

    async galeraWriteBootstrapState(input: {
      cloud: string;
      host: string;
      position: BootstrapPosition;
    }): Promise<void> {
      await writeBootstrapState(env, input.cloud, input.host, input.position);
    },

    async galeraWipeNode(input: { cloud: string; host: string }): Promise<void> {
      await wipeNode(env, input.cloud, input.host);
    },

    async galeraStartJoiner(input: {
      cloud: string;
      host: string;
      size: number;
      timeoutSeconds: number;
    }): Promise<{ seconds: number }> {
      return startJoiner(env, input.cloud, input.host, input.size, input.timeoutSeconds);
    },

    async galeraDesync(input: { cloud: string; host: string; backupId: string }): Promise<void> {
      galeraConfig(env, input.cloud);
      await desyncNode(env, input.cloud, input.host, input.backupId);
    },

    async galeraResync(input: { cloud: string; host: string }): Promise<ResyncResult> {
      return resyncNode(env, input.cloud, input.host, galeraConfig(env, input.cloud).drainTimeoutSeconds);
    },

    /** Re-checks the staged file, then moves it into place with its recipe; the manifest goes last. */
    async repositoryPublishDatabaseBackup(input: {
      stagingDir: string;
      manifest: ArtifactManifest;
    }): Promise<{ path: string }> {
      const m = input.manifest;
      const rel = artifactDir(m.cloud, m.component, m.id);
      const already = await env.repo.readManifest(rel);
      if (already) return { path: rel };
      try {
        if (deps.config.repository.verifyAfterWrite && (await env.repo.exists(input.stagingDir))) {
          const got = await env.repo.sha256File(`${input.stagingDir}/${m.artifact.file}`);
          if (got.sha256 !== m.artifact.sha256 || got.bytes !== m.artifact.bytes) {
            await env.repo.discardStaging(input.stagingDir);
            throw fatal(
              FailureType.ChecksumMismatch,
              `staged artifact ${m.id} reads back as ${got.sha256} (${got.bytes} bytes), written as ${m.artifact.sha256} (${m.artifact.bytes} bytes)`,
              'the repository disk returned different bytes: check it, then take the backup again',
            );
          }
        }
        // the script restores the whole chain this artifact needs, parents first
        const all = (await env.repo.scanManifests(m.cloud)).filter(isDatabaseManifest).filter((x) => x.id !== m.id);
        const chain = chainTo([...all, m], m.id);
        if ('problem' in chain)
          throw fatal(FailureType.ChainBroken, `cannot publish ${m.id}: ${chain.problem.reason}`, 'take a full backup');
        await env.repo.publish(input.stagingDir, rel, m, {
          [RECIPE_FILE]: databaseRestoreRecipe(m),
          [RESTORE_SCRIPT]: databaseRestoreScript(chain.chain),
        });
        await catalog.refresh(m.cloud, m.component, m.id);
      } catch (e) {
        if (e instanceof Error && e.name === 'ApplicationFailure') throw e;
        throw fsFailure(e, `publishing ${rel}`);
      }
      return { path: rel };
    },

    /** Compensation: drops an attempt's staged artifact that will not be published. */
    async repositoryDiscardStaging(input: { stagingDir: string }): Promise<void> {
      await env.repo.discardStaging(input.stagingDir);
    },

    async repositoryFindDatabaseBackup(input: { cloud: string; backupId?: string }): Promise<ArtifactManifest> {
      return findDatabaseBackup(env, input.cloud, input.backupId);
    },

    async repositoryWriteVerification(input: { record: VerificationRecord }): Promise<{ path: string }> {
      const r = input.record;
      const path = await env.repo.writeVerification(artifactDir(r.cloud, 'database', r.backupId), r);
      await catalog.refresh(r.cloud, 'database', r.backupId);
      return { path };
    },

    /** The chain, full backup first, that restores a restore point (default: the newest). */
    async repositoryPlanRestore(input: { cloud: string; backupId?: string }): Promise<ArtifactManifest[]> {
      return planRestore(env, input.cloud, input.backupId);
    },

    async repositoryVerifyChain(input: { cloud: string; ids: string[] }) {
      return verifyChain(env, input.cloud, input.ids);
    },

    /** Streams one chain member into <restoreDir>/<restorePoint>/<member>/ on the target. */
    async mariadbRestoreStream(input: { cloud: string; backupId: string; targetHost: string; restorePoint?: string }) {
      return streamToHost(env, input.cloud, input.backupId, input.targetHost, input.restorePoint);
    },

    async mariadbPrepareChain(input: {
      cloud: string;
      restorePoint: string;
      members: { id: string; kind: string; toLsn: string }[];
      targetHost: string;
    }) {
      return prepareChainOnHost(env, input.cloud, input.restorePoint, input.members, input.targetHost);
    },

    async mariadbStopServer(input: { cloud: string; host: string }): Promise<void> {
      await serverCommand(env, input.cloud, input.host, 'stop');
    },

    async mariadbCopyBack(input: { cloud: string; restorePoint: string; fullId: string; targetHost: string }) {
      return copyBackOnHost(env, input.cloud, input.restorePoint, input.fullId, input.targetHost);
    },

    /** bootstrap: the node's bootstrapCommand (--wsrep-new-cluster) instead of its startCommand. */
    async mariadbStartServer(input: { cloud: string; host: string; bootstrap?: boolean }): Promise<void> {
      await serverCommand(env, input.cloud, input.host, input.bootstrap ? 'bootstrap' : 'start');
      await waitForServer(env, input.cloud, input.host);
    },

    async mariadbRemoveRestoreDir(input: { cloud: string; backupId: string; targetHost: string }): Promise<void> {
      await removeRestoreDir(env, input.cloud, input.backupId, input.targetHost);
    },

    // ---- binary logs (point-in-time recovery) ----

    async binlogArchiveSettings(input: {
      cloud: string;
    }): Promise<{ segmentSeconds: number; rpoTargetSeconds: number; compactAfterMinutes: number }> {
      const b = env.cloud(input.cloud).database.binlog;
      return {
        segmentSeconds: b.segmentSeconds,
        rpoTargetSeconds: b.rpoTargetSeconds,
        compactAfterMinutes: b.compactAfterMinutes,
      };
    },

    /** Compaction: which old segments to merge, which leftovers to remove (activities/mariadb/binlog-compact.ts). */
    async binlogPlanCompaction(input: { cloud: string }): Promise<CompactionPlanResult> {
      return planBinlogCompaction(env, input.cloud);
    },

    /** Merges one planned run of segments into one published, re-checked segment; the pieces stay. */
    async binlogMergeSegments(input: MergeInput): Promise<MergeResult> {
      const r = await mergeBinlogSegments(env, input);
      await catalog.refresh(input.cloud, 'binlog', r.id);
      return r;
    },

    /** Removes pieces a published merged segment holds (idempotent). */
    async binlogRemoveMergedPieces(input: RemoveInput): Promise<{ removed: string[]; kept: string[] }> {
      return removeBinlogPieces(env, input, (ids) =>
        catalog.refreshOwn(
          input.cloud,
          ids.map((id) => ({ component: 'binlog', id })),
        ),
      );
    },

    /** Archives what the server wrote since `from` as sealed segments (activities/mariadb/binlog-archive.ts). */
    async mariadbArchiveBinlog(input: ArchiveStepInput): Promise<ArchiveStepResult> {
      return archiveBinlogStep(env, input, (id) => catalog.refresh(input.cloud, 'binlog', id));
    },

    /** Point-in-time: the chain and the segments that reach `at`; out of range fails at once (non-retryable) naming the ranges. */
    async repositoryPlanPointInTime(input: {
      cloud: string;
      at?: string;
      gtid?: string;
      position?: string;
    }): Promise<{ chain: ArtifactManifest[]; replay: ReplayPlan }> {
      return planPointInTimeRestore(env, input.cloud, input);
    },

    async repositoryVerifySegments(input: { cloud: string; ids: string[] }): Promise<{ bytes: number }> {
      return verifySegments(env, input.cloud, input.ids);
    },

    async mariadbStreamBinlogs(input: {
      cloud: string;
      targetHost: string;
      restorePoint: string;
      files: { file: string; segments: string[] }[];
    }): Promise<{ bytes: number; seconds: number }> {
      return streamBinlogsToHost(env, input.cloud, input.targetHost, input.restorePoint, input.files);
    },

    async mariadbReplayBinlogs(input: {
      cloud: string;
      targetHost: string;
      restorePoint: string;
      replay: ReplayStop;
      baseGtid: string;
      into?: ReplayInto;
    }): Promise<ReplayResult> {
      return replayBinlogsOnHost(
        env,
        input.cloud,
        input.targetHost,
        input.restorePoint,
        input.replay,
        input.baseGtid,
        input.into,
      );
    },

    // ---- single-service restore (activities/mariadb/scratch.ts) ----

    async serviceRestoreSettings(input: { cloud: string; service: string }) {
      return serviceSettings(env, input.cloud, input.service);
    },

    /** Dump or scratch for the service's schemas at `at` (core/service-restore/plan.ts); the chain's manifests when scratch. */
    async repositoryPlanServiceRestore(input: {
      cloud: string;
      at: string;
      schemas: string[];
      via?: 'dump' | 'scratch';
    }): Promise<{ plan: ServiceRestorePlan; chain: ArtifactManifest[] }> {
      const all = await env.repo.scanManifests(input.cloud);
      const points = all.filter(isDatabaseManifest);
      const dumps: DumpLink[] = all.filter(isDumpManifest).map((m) => ({
        id: m.id,
        source: { host: m.source.host },
        snapshotAt: m.dump.snapshotAt,
        binlog: m.dump.binlog,
        gtid: m.dump.gtid,
        schemas: m.dump.schemas.map((x) => x.name),
      }));
      const r = planServiceRestore({
        at: input.at,
        schemas: input.schemas,
        via: input.via,
        dumps,
        points,
        segments: all.filter(isBinlogManifest).map(segmentLink),
      });
      if ('problem' in r)
        throw fatal(
          FailureType.PitrOutOfRange,
          `restoring ${input.schemas.join(', ')} of cloud ${input.cloud}: ${r.problem}; nothing was touched`,
          'choose a time inside a recoverable range (`osbackup binlog status`), or take a backup or dump and keep the binlog archiver running',
        );
      const byId = new Map(points.map((m) => [m.id, m]));
      return { plan: r.plan, chain: r.plan.via === 'scratch' ? r.plan.pitr.chain.map((id) => byId.get(id)!) : [] };
    },

    async mariadbScratchStart(input: {
      cloud: string;
      host: string;
      folder: string;
      service: string;
      member: string | null;
    }) {
      return startScratch(env, input.cloud, input.host, input.folder, input.service, input.member);
    },

    async mariadbScratchExport(input: {
      cloud: string;
      host: string;
      folder: string;
      service: string;
      schemas: string[];
    }): Promise<ScratchExport> {
      return exportFromScratch(env, input.cloud, input.host, input.folder, input.service, input.schemas);
    },

    async mariadbScratchRemove(input: { cloud: string; host: string; folder: string; keepFiles: boolean }) {
      return removeScratch(env, input.cloud, input.host, input.folder, input.keepFiles);
    },

    async mariadbSafetyDumpLive(input: {
      cloud: string;
      scratchHost: string;
      folder: string;
      service: string;
      schemas: string[];
    }) {
      return safetyDumpLive(env, input.cloud, input.scratchHost, input.folder, input.service, input.schemas);
    },

    async mariadbImportIntoLive(input: { cloud: string; scratchHost: string; file: string; sha256: string }) {
      return importIntoLive(env, input.cloud, input.scratchHost, input.file, input.sha256);
    },

    async serviceRunCommand(input: {
      cloud: string;
      service: string;
      which: 'redeploy' | 'check';
    }): Promise<CommandOutcome | null> {
      return runServiceCommand(env, input.cloud, input.service, input.which);
    },

    // ---- logical dumps ----

    /** One mariadb-dump run (one snapshot) split into sealed per-schema files in a staging folder. */
    async mariadbDump(input: DumpStreamInput): Promise<DumpStreamResult> {
      return dumpStream(env, input);
    },

    /** Re-hashes every staged file, then publishes the folder with SHA256SUMS, RESTORE.md and restore.sh; the manifest goes last. */
    async repositoryPublishDump(input: {
      stagingDir: string;
      manifest: Omit<DumpManifest, 'partsDigest'>;
    }): Promise<{ path: string; partsDigest: string }> {
      const sums = dumpSums(input.manifest.dump.schemas);
      const m: DumpManifest = { ...input.manifest, partsDigest: createHash('sha256').update(sums).digest('hex') };
      const rel = artifactDir(m.cloud, m.component, m.id);
      if (await env.repo.readManifest(rel)) return { path: rel, partsDigest: m.partsDigest };
      try {
        if (deps.config.repository.verifyAfterWrite && (await env.repo.exists(input.stagingDir))) {
          for (const s of m.dump.schemas) {
            const got = await env.repo.sha256File(`${input.stagingDir}/${s.file}`);
            if (got.sha256 !== s.sha256 || got.bytes !== s.bytes) {
              await env.repo.discardStaging(input.stagingDir);
              throw fatal(
                FailureType.ChecksumMismatch,
                `staged dump file ${s.file} of ${m.id} reads back as ${got.sha256} (${got.bytes} bytes), written as ${s.sha256} (${s.bytes} bytes)`,
                'the repository disk returned different bytes: check it, then take the dump again',
              );
            }
          }
        }
        await env.repo.publish(input.stagingDir, rel, m, {
          [RECIPE_FILE]: dumpRecipe(m),
          [RESTORE_SCRIPT]: dumpRestoreScript(m),
          SHA256SUMS: sums,
        });
        await catalog.refresh(m.cloud, m.component, m.id);
      } catch (e) {
        if (e instanceof Error && e.name === 'ApplicationFailure') throw e;
        throw fsFailure(e, `publishing ${rel}`);
      }
      return { path: rel, partsDigest: m.partsDigest };
    },

    /** A dump (default: the newest) and the schemas a restore takes from it; an unknown schema is refused. */
    async repositoryFindDump(input: {
      cloud: string;
      dumpId?: string;
      schemas?: string[];
    }): Promise<{ id: string; snapshotAt: string; schemas: string[] }> {
      const m = await findDump(env, input.cloud, input.dumpId);
      const names = m.dump.schemas.map((s) => s.name);
      const want = input.schemas?.length ? input.schemas : names;
      const unknown = want.filter((s) => !names.includes(s));
      if (unknown.length)
        throw fatal(
          FailureType.BackupNotFound,
          `dump ${m.id} holds no ${unknown.join(', ')} (it holds ${names.join(', ')})`,
          'name schemas the dump holds, or another dump (`osbackup catalog list`)',
        );
      return { id: m.id, snapshotAt: m.dump.snapshotAt, schemas: want };
    },

    /** Re-hashes the files a restore needs: a corrupt one is named before the target is touched. */
    async repositoryVerifyDump(input: {
      cloud: string;
      dumpId: string;
      schemas: string[];
    }): Promise<{ bytes: number }> {
      return verifyDumpFiles(env, input.cloud, input.dumpId, input.schemas);
    },

    /** Imports the schemas into the target host's server (decrypted on the worker, streamed into `mariadb`). */
    async mariadbImportDump(input: {
      cloud: string;
      dumpId: string;
      schemas: string[];
      targetHost: string;
      into?: { socket: string };
    }): Promise<DumpImportResult> {
      return importDumpToHost(env, input.cloud, input.dumpId, input.schemas, input.targetHost, input.into);
    },

    // ---- control plane ----

    async repositoryCreateStaging(input: { id: string }): Promise<{ stagingDir: string }> {
      try {
        return { stagingDir: await env.repo.createStaging(input.id) };
      } catch (e) {
        throw fsFailure(e, `creating a staging folder in ${env.repo.root}`);
      }
    },

    async controlPlaneBackupKolla(input: { cloud: string; stagingDir: string; from?: { host: string; dir: string } }) {
      return backupKollaConfig(env, input.cloud, input.stagingDir, input.from);
    },

    async controlPlaneBackupKeys(input: { cloud: string; host: string; stagingDir: string }) {
      return backupKeystoneKeys(env, input.cloud, input.host, input.stagingDir);
    },

    async controlPlaneBackupRabbitmq(input: { cloud: string; stagingDir: string }) {
      return backupRabbitmq(env, input.cloud, input.stagingDir);
    },

    /** What the encryption of new artifacts looks like (recorded in manifests) and the tool versions. */
    async cryptoDescribe(input: { cloud: string }): Promise<{
      encryption: ControlPlaneManifest['encryption'];
      tools: { zstd: string; gpg: string };
      compressionLevel: number;
    }> {
      const keys = await env.gpgKeys();
      const [recipientFingerprints, zstd, gpg] = await Promise.all([
        keyFingerprints(keys.recipientKeyFiles, keys.homedir),
        zstdVersion(),
        gpgVersion(),
      ]);
      const compressionLevel = env.cloud(input.cloud).controlPlane?.compressionLevel ?? 9;
      return {
        encryption: {
          format: 'openpgp',
          cipher: 'AES256',
          passphrase: keys.passphrase !== undefined,
          recipientFingerprints,
        },
        tools: { zstd, gpg },
        compressionLevel,
      };
    },

    /** Re-hashes every staged part, then publishes the folder with SHA256SUMS and the recipe; the manifest goes last. */
    async repositoryPublishControlPlane(input: {
      stagingDir: string;
      manifest: Omit<ControlPlaneManifest, 'partsDigest'>;
    }): Promise<{ path: string; partsDigest: string }> {
      const sums = partsSums(input.manifest.parts);
      const m: ControlPlaneManifest = {
        ...input.manifest,
        partsDigest: createHash('sha256').update(sums).digest('hex'),
      };
      const rel = artifactDir(m.cloud, m.component, m.id);
      if (await env.repo.readManifest(rel)) return { path: rel, partsDigest: m.partsDigest };
      try {
        if (deps.config.repository.verifyAfterWrite && (await env.repo.exists(input.stagingDir))) {
          for (const p of m.parts) {
            const got = await env.repo.sha256File(`${input.stagingDir}/${p.file}`);
            if (got.sha256 !== p.sha256 || got.bytes !== p.bytes) {
              await env.repo.discardStaging(input.stagingDir);
              throw fatal(
                FailureType.ChecksumMismatch,
                `staged part ${p.file} of ${m.id} reads back as ${got.sha256} (${got.bytes} bytes), written as ${p.sha256} (${p.bytes} bytes)`,
                'the repository disk returned different bytes: check it, then take the backup again',
              );
            }
          }
        }
        await env.repo.publish(input.stagingDir, rel, m, { [RECIPE_FILE]: controlPlaneRecipe(m), SHA256SUMS: sums });
        await catalog.refresh(m.cloud, m.component, m.id);
      } catch (e) {
        if (e instanceof Error && e.name === 'ApplicationFailure') throw e;
        throw fsFailure(e, `publishing ${rel}`);
      }
      return { path: rel, partsDigest: m.partsDigest };
    },

    async controlPlaneFind(input: {
      cloud: string;
      backupId?: string;
    }): Promise<{ id: string; keystone: ControlPlaneManifest['keystone']; parts: { kind: string; host: string }[] }> {
      const m = await readControlPlane(env, input.cloud, input.backupId);
      return { id: m.id, keystone: m.keystone, parts: m.parts.map((p) => ({ kind: p.kind, host: p.host })) };
    },

    async controlPlaneRestoreKeys(input: { cloud: string; backupId: string; fromHost?: string; toHost: string }) {
      return withHeartbeat(
        'restoring the keys',
        restoreKeystoneKeys(env, input.cloud, input.backupId, input.fromHost, input.toHost),
        3000,
      );
    },

    async controlPlaneDiffConfig(input: { cloud: string; backupId?: string; targetHost: string; targetPath: string }) {
      return withHeartbeat(
        'comparing the config tree',
        diffKollaConfig(env, input.cloud, input.backupId, input.targetHost, input.targetPath),
        3000,
      );
    },

    async controlPlaneRestoreConfig(input: {
      cloud: string;
      backupId: string;
      targetHost: string;
      targetPath: string;
    }) {
      return withHeartbeat(
        'restoring the config tree',
        restoreKollaConfig(env, input.cloud, input.backupId, input.targetHost, input.targetPath),
        3000,
      );
    },

    async controlPlaneRestoreRabbitmq(input: { cloud: string; backupId: string; targetHost: string }) {
      return restoreRabbitmq(env, input.cloud, input.backupId, input.targetHost);
    },

    // ---- importing backups osbackup did not take ----

    /** The Kolla mariadb_backup files under `dir` on a host, with size, mtime and SHA-256. */
    async importListKollaBackups(input: { cloud: string; host: string; dir: string }): Promise<ListedFile[]> {
      return listRemoteFiles(env, input.cloud, input.host, input.dir, '*mysqlbackup*');
    },

    /** The database artifacts of a cloud as an import needs them: LSNs for parents, original hashes for idempotency. */
    async importListKnownArtifacts(input: { cloud: string }): Promise<KnownArtifact[]> {
      return (await env.repo.scanManifests(input.cloud)).filter(isDatabaseManifest).map((m) => ({
        id: m.id,
        kind: m.kind,
        fromLsn: m.mariadb.checkpoints.fromLsn,
        toLsn: m.mariadb.checkpoints.toLsn,
        completedAt: m.completedAt,
        originalSha256: m.imported?.originalSha256 ?? null,
        originalPath: m.imported ? `${m.imported.host}:${m.imported.path}` : null,
      }));
    },

    /** One original → a staged osbackup artifact (decoded, checked, zstd + OpenPGP). */
    async importStreamArtifact(input: ImportStreamInput): Promise<ImportStreamResult> {
      return importStream(env, input);
    },

    /** The seed's catalog.csv, from a host over SSH or from the worker's disk. */
    async importReadSeedCatalog(input: { cloud: string; host?: string; path: string }): Promise<{ text: string }> {
      if (!input.host) {
        try {
          return { text: await readFile(input.path, 'utf8') };
        } catch (e) {
          throw fatal(
            FailureType.BackupNotFound,
            `the seed catalog ${input.path} cannot be read on the worker (${(e as NodeJS.ErrnoException).code})`,
            'give its path, and --host when it is on another host',
          );
        }
      }
      const { target } = env.host(input.cloud, input.host);
      const r = await deps.ssh.run(target, `cat -- ${shQuote(input.path)}`, { maxBytes: 64 * 1024 * 1024 });
      if (r.code !== 0)
        throw fatal(
          FailureType.BackupNotFound,
          `the seed catalog ${input.host}:${input.path} cannot be read: ${r.stderr.trim()}`,
          'give its path on that host',
        );
      return { text: r.stdout };
    },

    /** Rows of one target, or of every configured target (the repository first). */
    async catalogList(input: { cloud?: string; target?: string }): Promise<CatalogListing> {
      if (input.target) return { rows: await (await catalogOf(input.target)).list(input.cloud), unavailable: [] };
      // every target: one that cannot be read (Swift down, a share not mounted) is named, not fatal
      const out: CatalogListing = { rows: [], unavailable: [] };
      for (const n of targetNames(deps.config)) {
        try {
          out.rows.push(...(await (await catalogOf(n)).list(input.cloud)));
        } catch (e) {
          if (n === deps.config.repository.name) throw e;
          out.unavailable.push({ target: n, reason: e instanceof Error ? e.message : String(e) });
        }
      }
      return out;
    },

    /** Rebuilds the index of one target (default: every target) from the storage alone. */
    /** The pre-upgrade gate's verdict from the repository's catalog, by the worker's clock. */
    async preflightGate(input: Omit<GateInput, 'rows' | 'now'> & { cloud: string }): Promise<GateVerdict> {
      const { cloud, ...rest } = input;
      return gateVerdict({ ...rest, rows: await catalog.list(cloud), now: new Date().toISOString() });
    },

    /** One artifact with its chain, dependents, files and recipe (`osbackup describe`). */
    async describeArtifact(input: { id: string; target?: string }): Promise<ArtifactDescription> {
      const name = input.target ?? deps.config.repository.name;
      return describeArtifact(await env.target(name), await catalogOf(name), input.id);
    },

    async catalogRebuild(input: { target?: string } = {}): Promise<CatalogEntry[]> {
      const names = input.target ? [input.target] : targetNames(deps.config);
      const out: CatalogEntry[] = [];
      for (const n of names) out.push(...(await (await catalogOf(n)).rebuild()));
      return out;
    },

    // ---- retention (two phases: mark, then re-check and purge) ----

    /** The dry run: what would go from each target and why. */
    async retentionPlan(input: {
      cloud: string;
      target: string;
      now: string;
    }): Promise<{ target: string; location: string; plan: RetentionPlan; components: Record<string, string> }> {
      const t = await env.target(input.target);
      return { target: t.name, location: t.location, ...(await planTarget(t, input.cloud, input.now)) };
    },

    async retentionMark(input: {
      cloud: string;
      target: string;
      runId: string;
      now: string;
    }): Promise<{ remove: number; retained: number; journal: string }> {
      const j = await markTarget(env, input);
      return {
        remove: j.remove.length,
        retained: j.retained.length,
        journal: `${journalPrefix(input.cloud)}${input.runId}.json`,
      };
    },

    async retentionPending(input: { cloud: string; target: string }): Promise<string[]> {
      return pendingJournals(env, input.cloud, input.target);
    },

    async retentionPurge(input: {
      cloud: string;
      target: string;
      runId: string;
    }): Promise<{ purged: string[]; bytes: number }> {
      const cat = await catalogOf(input.target);
      return purgeTarget(env, input, (id, component) => cat.refresh(input.cloud, component, id));
    },

    /** What crashed writers left on a target (older than 6 h: nothing a live attempt still writes). */
    async targetCollectGarbage(input: { cloud: string; target: string }): Promise<string[]> {
      return collectGarbage(await env.target(input.target), input.cloud, 6 * 3600_000);
    },

    /** The targets a rotation covers (default: every configured one). */
    async retentionTargets(input: { target?: string }): Promise<string[]> {
      if (input.target && !targetNames(deps.config).includes(input.target))
        throw fatal(
          FailureType.ConfigInvalid,
          `target "${input.target}" is not configured`,
          `use one of: ${targetNames(deps.config).join(', ')}`,
        );
      return input.target ? [input.target] : targetNames(deps.config);
    },

    // ---- copies between targets ----

    /** What a tier run does, from the worker's config (workflows read no config). */
    async tierPlan(input: { cloud: string; tier: 'daily' | 'weekly' | 'monthly' | 'control-plane' | 'dump' }): Promise<{
      primary: string;
      targets: string[];
      toolVersion: string;
      controlPlane: { kolla: boolean; keystoneHosts: string[]; rabbitmq: boolean };
    }> {
      const c = env.cloud(input.cloud);
      // control-plane backups and dumps go where the daily backups go
      const tier = input.tier === 'control-plane' || input.tier === 'dump' ? 'daily' : input.tier;
      const primary = deps.config.repository.name;
      return {
        primary,
        targets: c.tiers[tier]?.targets ?? [primary],
        toolVersion: deps.version ?? 'unknown',
        controlPlane: {
          kolla: !!c.controlPlane?.kolla,
          keystoneHosts: c.controlPlane?.keystoneHosts ?? [],
          rabbitmq: !!c.rabbitmq,
        },
      };
    },

    /**
     * How a scheduled tier run ended, into the run journal on the repository (clouds/<c>/.runs/<tier>.json):
     * the failure counter of /metrics reads it, so it survives worker restarts.
     */
    async repositoryRecordTierRun(
      input: { cloud: string; tier: string; workflowId: string; runId: string; startedAt: string } & (
        | { outcome: 'success'; backupId: string | null }
        | { outcome: RunEndStatus; type: string | null; message: string | null }
      ),
    ): Promise<void> {
      const at = new Date().toISOString();
      if (input.outcome === 'success') {
        await recordSuccess(env.primary, input.cloud, input.tier, {
          workflowId: input.workflowId,
          runId: input.runId,
          at,
          startedAt: input.startedAt,
          backupId: input.backupId,
        });
        return;
      }
      await recordFailures(env.primary, input.cloud, input.tier, [
        {
          workflowId: input.workflowId,
          runId: input.runId,
          status: input.outcome,
          at,
          type: input.type,
          message: input.message,
          seenBy: 'workflow',
        },
      ]);
    },

    /** What a copy must carry (whole chains, parents first), from the manifests on both sides. */
    async targetsPlanCopy(input: {
      cloud: string;
      from: string;
      to: string;
      ids?: string[];
      all?: boolean;
      newest?: boolean;
      promoteNotAfter?: string;
    }): Promise<CopyPlan & { want: string[]; components: Record<string, string> }> {
      const source = await targetManifests(env, input.from, input.cloud);
      const dest = await targetManifests(env, input.to, input.cloud);
      let want = input.ids ?? [];
      const extra: CopyPlan['problems'] = [];
      if (input.promoteNotAfter) {
        const p = promotionSet(source, input.promoteNotAfter);
        want = p.ids;
        if (p.problem) extra.push({ id: 'promotion', reason: p.problem });
      } else if (input.all)
        want = source.filter((m) => !('reason' in m && m.reason === 'pre-restore')).map((m) => m.id);
      else if (input.newest) {
        const newest = newestIntactRestorePoint(source.filter(isDatabaseManifest), new Set());
        if (!newest)
          throw fatal(
            FailureType.BackupNotFound,
            `target "${input.from}" holds no intact database restore point of cloud ${input.cloud}`,
            `list what it holds with \`osbackup catalog list --target ${input.from}\``,
          );
        want = [newest];
      }
      const plan = planCopy(source, dest, want);
      plan.problems.push(...extra);
      return { ...plan, want, components: Object.fromEntries(source.map((m) => [m.id, m.component])) };
    },

    async targetsCopyArtifact(input: CopyArtifactInput): Promise<CopyArtifactResult> {
      const r = await copyArtifact(env, input, deps.config.repository.verifyAfterWrite);
      await (await catalogOf(input.to)).refresh(input.cloud, input.component, input.id);
      return r;
    },

    // ---- verify / scrub and capacity (activities/storage/verify.ts) ----
    ...verifyActivities(env),
    // ---- DR drills (activities/drill/drill.ts) ----
    ...drillActivities(env, catalog),
    /** The scrub's re-read, then its check records into the target's catalog (else `catalog list` and the report show UNCHECKED until a rebuild). */
    async storageCheckArtifacts(
      input: Parameters<ReturnType<typeof verifyActivities>['storageCheckArtifacts']>[0],
    ): Promise<ArtifactCheck[]> {
      const r = await verifyActivities(env).storageCheckArtifacts(input);
      await (await catalogOf(input.target)).refreshMany(input.cloud, input.artifacts);
      return r;
    },
    // cloud-side retention removes image exports: osbackup's own deletions leave the catalog
    ...openstackActivities(env, (cloud, id) => catalog.refresh(cloud, 'image', id)),
    // the full rebuild (workflows/dr-rebuild.ts)
    ...drActivities(env),
  };
}

export type Activities = ReturnType<typeof createActivities>;
