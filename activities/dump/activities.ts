// Logical dumps: one consistent snapshot of chosen schemas, sealed per schema, and their import
// into a server.
import { rereadAfterWrite } from '../../config/schema.js';
import { createHash } from 'node:crypto';
import { dumpRecipe, dumpRestoreScript, dumpSums, type DumpManifest } from '../../core/dump/dump.js';
import { artifactDir, RECIPE_FILE } from '../../core/manifest/manifest.js';
import { RESTORE_SCRIPT } from '../../core/manifest/recipe.js';
import type { ActivityContext } from '../context.js';
import { fatal, fsFailure, FailureType } from '../errors.js';
import { dumpStream, type DumpStreamInput, type DumpStreamResult } from './dump.js';
import { findDump, importDumpToHost, verifyDumpFiles, type DumpImportResult } from './restore.js';

export function dumpActivities({ env, catalog }: ActivityContext) {
  const { deps } = env;
  return {
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
        if (rereadAfterWrite(deps.config.repository) && (await env.repo.exists(input.stagingDir))) {
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
  };
}
