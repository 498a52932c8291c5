// All activities, built from their dependencies (DESIGN.md §1). Names are verb-first with a
// domain; renaming one breaks running workflows.
import { catalogEntry, type CatalogEntry } from '../workflows/lib/catalog.js';
import { artifactDir, RECIPE_FILE, type ArtifactManifest, type DbFacts, type VerificationRecord } from '../workflows/lib/manifest.js';
import { databaseRestoreRecipe } from '../workflows/lib/recipe.js';
import { Env, type Deps } from './deps.js';
import { fatal, fsFailure, FailureType } from './errors.js';
import { streamFullBackup, type StreamBackupInput, type StreamBackupResult } from './mariadb/backup.js';
import { collectFacts } from './mariadb/facts.js';
import { copyBackOnHost, findDatabaseBackup, prepareOnHost, removeRestoreDir, serverCommand, streamToHost, waitForServer } from './mariadb/restore.js';

export type { Deps } from './deps.js';
export type { StreamBackupInput, StreamBackupResult } from './mariadb/backup.js';

export function createActivities(deps: Deps) {
  const env = new Env(deps);
  return {
    /** Facts of `host` (default: the cloud's database host). */
    async mariadbCollectFacts(input: { cloud: string; host?: string; tables?: string[] }): Promise<DbFacts> {
      return collectFacts(env, input.cloud, input.host ?? env.cloud(input.cloud).database.host, input.tables);
    },

    async mariadbStreamBackup(input: StreamBackupInput): Promise<StreamBackupResult> {
      return streamFullBackup(env, input);
    },

    /** Re-checks the staged file, then moves it into place with its recipe; the manifest goes last. */
    async repositoryPublishDatabaseBackup(input: { stagingDir: string; manifest: ArtifactManifest }): Promise<{ path: string }> {
      const m = input.manifest;
      const rel = artifactDir(m.cloud, m.component, m.id);
      const already = await env.repo.readManifest(rel);
      if (already) return { path: rel };
      try {
        if (deps.config.repository.verifyAfterWrite && (await env.repo.exists(input.stagingDir))) {
          const got = await env.repo.sha256File(`${input.stagingDir}/${m.artifact.file}`);
          if (got.sha256 !== m.artifact.sha256 || got.bytes !== m.artifact.bytes) {
            await env.repo.discardStaging(input.stagingDir);
            throw fatal(FailureType.ChecksumMismatch, `staged artifact ${m.id} reads back as ${got.sha256} (${got.bytes} bytes), written as ${m.artifact.sha256} (${m.artifact.bytes} bytes)`, 'the repository disk returned different bytes: check it, then take the backup again');
          }
        }
        await env.repo.publish(input.stagingDir, rel, m, { [RECIPE_FILE]: databaseRestoreRecipe(m) });
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
      return { path: await env.repo.writeVerification(artifactDir(r.cloud, 'database', r.backupId), r) };
    },

    async mariadbRestoreStream(input: { cloud: string; backupId: string; targetHost: string }) {
      return streamToHost(env, input.cloud, input.backupId, input.targetHost);
    },

    async mariadbPrepareBackup(input: { cloud: string; backupId: string; targetHost: string }) {
      return prepareOnHost(env, input.cloud, input.backupId, input.targetHost);
    },

    async mariadbStopServer(input: { cloud: string; host: string }): Promise<void> {
      await serverCommand(env, input.cloud, input.host, 'stop');
    },

    async mariadbCopyBack(input: { cloud: string; backupId: string; targetHost: string }) {
      return copyBackOnHost(env, input.cloud, input.backupId, input.targetHost);
    },

    async mariadbStartServer(input: { cloud: string; host: string }): Promise<void> {
      await serverCommand(env, input.cloud, input.host, 'start');
      await waitForServer(env, input.cloud, input.host);
    },

    async mariadbRemoveRestoreDir(input: { cloud: string; backupId: string; targetHost: string }): Promise<void> {
      await removeRestoreDir(env, input.cloud, input.backupId, input.targetHost);
    },

    async catalogList(input: { cloud?: string }): Promise<CatalogEntry[]> {
      const manifests = await env.repo.scanManifests(input.cloud);
      const out: CatalogEntry[] = [];
      for (const m of manifests) out.push(catalogEntry(m, await env.repo.readVerifications(artifactDir(m.cloud, m.component, m.id))));
      return out;
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
