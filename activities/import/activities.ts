// Importing backups osbackup did not take (Kolla's mariadb_backup files, the seed scripts'
// artifacts) as ordinary database artifacts.
import { readFile } from 'node:fs/promises';
import type { KnownArtifact, ListedFile } from '../../core/import/import.js';
import { isDatabaseManifest } from '../../core/manifest/any-manifest.js';
import type { ActivityContext } from '../context.js';
import { fatal, FailureType } from '../errors.js';
import { shQuote } from '../ssh/quote.js';
import { importStream, listRemoteFiles, type ImportStreamInput, type ImportStreamResult } from './stream.js';

export function importActivities({ env }: ActivityContext) {
  const { deps } = env;
  return {
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
  };
}
