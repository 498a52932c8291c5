// Physical backups of the database (full and incremental, streamed by mariabackup) and their
// restore: a chain is streamed to the target host, prepared, copied back, and the server restarted.
import { rereadAfterWrite } from '../../config/schema.js';
import {
  artifactDir,
  RECIPE_FILE,
  type ArtifactManifest,
  type DbFacts,
  type VerificationRecord,
  FACTS_FILE,
  type ListedTable,
  type ReferenceFacts,
} from '../../core/manifest/manifest.js';
import { isDatabaseManifest } from '../../core/manifest/any-manifest.js';
import {
  databaseRestoreRecipe,
  databaseRestoreScript,
  repositoryLocation,
  RESTORE_SCRIPT,
} from '../../core/manifest/recipe.js';
import { chainTo, incrementalBase } from '../../core/chain/chain.js';
import type { ActivityContext } from '../context.js';
import { fatal, fsFailure, FailureType } from '../errors.js';
import { streamBackup, type StreamBackupInput, type StreamBackupResult } from './backup.js';
import { collectFacts, listTables } from './facts.js';
import { withHeartbeat } from '../heartbeat.js';
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
} from './restore.js';

export function mariadbActivities({ env, catalog }: ActivityContext) {
  const { deps } = env;
  return {
    /** Facts of `host` (default: the cloud's database host). */
    async mariadbCollectFacts(input: { cloud: string; host?: string; tables?: string[] }): Promise<DbFacts> {
      const host = input.host ?? env.cloud(input.cloud).database.host;
      return withHeartbeat('collecting facts', collectFacts(env, input.cloud, host, input.tables));
    },

    /**
     * How the cloud's backups record facts, and with `backup` the live server's table list
     * (no row read): the exact facts then come from the backup's first verified restore.
     */
    async mariadbListTables(input: { cloud: string; host?: string }): Promise<{
      factsFrom: 'backup' | 'live';
      serverVersion: string;
      tables: ListedTable[];
    }> {
      const db = env.cloud(input.cloud).database;
      if (db.facts === 'live') return { factsFrom: 'live', serverVersion: '', tables: [] };
      return { factsFrom: 'backup', ...(await listTables(env, input.cloud, input.host ?? db.host)) };
    },

    /** Keeps the facts a verified restore read as the backup's reference; the first one stays. */
    async repositoryWriteReferenceFacts(input: { facts: ReferenceFacts }): Promise<{ path: string; kept: boolean }> {
      const f = input.facts;
      const rel = artifactDir(f.cloud, 'database', f.backupId);
      const kept = await env.repository.writeReferenceFacts(rel, f);
      await catalog.refresh(f.cloud, 'database', f.backupId);
      return { path: `${rel}/${FACTS_FILE}`, kept };
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
      const all = (await env.repository.scanManifests(input.cloud)).filter(isDatabaseManifest);
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

    /** Re-checks the staged file, then moves it into place with its recipe; the manifest goes last. */
    async repositoryPublishDatabaseBackup(input: {
      stagingDir: string;
      manifest: ArtifactManifest;
    }): Promise<{ path: string }> {
      const m = input.manifest;
      const rel = artifactDir(m.cloud, m.component, m.id);
      const already = await env.repository.readManifest(rel);
      if (already) return { path: rel };
      try {
        // a bucket's upload was confirmed (size and ETag, or a re-read) before the stream returned
        if (
          deps.config.repository.type === 'local' &&
          rereadAfterWrite(deps.config.repository) &&
          (await env.repo.exists(input.stagingDir))
        ) {
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
        const all = (await env.repository.scanManifests(m.cloud))
          .filter(isDatabaseManifest)
          .filter((x) => x.id !== m.id);
        const chain = chainTo([...all, m], m.id);
        if ('problem' in chain)
          throw fatal(FailureType.ChainBroken, `cannot publish ${m.id}: ${chain.problem.reason}`, 'take a full backup');
        const where = repositoryLocation(deps.config.repository);
        await env.repository.publish(input.stagingDir, rel, m, {
          [RECIPE_FILE]: databaseRestoreRecipe(m, where),
          [RESTORE_SCRIPT]: databaseRestoreScript(chain.chain, where),
        });
        await catalog.refresh(m.cloud, m.component, m.id);
      } catch (e) {
        if (e instanceof Error && e.name === 'ApplicationFailure') throw e;
        throw fsFailure(e, `publishing ${rel}`);
      }
      return { path: rel };
    },

    async repositoryFindDatabaseBackup(input: { cloud: string; backupId?: string }): Promise<ArtifactManifest> {
      return findDatabaseBackup(env, input.cloud, input.backupId);
    },

    async repositoryWriteVerification(input: { record: VerificationRecord }): Promise<{ path: string }> {
      const r = input.record;
      const path = await env.repository.writeVerification(artifactDir(r.cloud, 'database', r.backupId), r);
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
  };
}
