// Importing existing backups, the runbook: list what is on the host, skip what was imported
// before (same original SHA-256), then import oldest first — read and decode the original,
// check its xbstream, re-protect it (zstd + OpenPGP), link an incremental to the artifact whose
// to_lsn is where it starts, publish with the manifest last. An original that is damaged or
// whose chain has a gap is reported by name and not published; the others still are.
import {
  workflowInfo,
  upsertSearchAttributes,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { ImportStreamInput, ImportStreamResult } from '../activities/import/stream.js';
import {
  importedId,
  parentByLsn,
  parseSeedCatalog,
  planKollaImport,
  planSeedImport,
  PER_FILE_FAILURES,
  type ImportKind,
  type KnownArtifact,
} from '../core/import/import.js';
import {
  databaseArtifactSection,
  MANIFEST_FORMAT,
  RECIPE_FILE,
  type ArtifactManifest,
  type ImportedFrom,
} from '../core/manifest/manifest.js';
import { longStream, shortCall, shortActivities, dataBoundActivities, dataBoundCall } from './options.js';
import { Steps } from './progress.js';
import { CLOUD, COMPONENT, TIER } from './search-attributes.js';

const short = shortActivities(shortCall);
const data = dataBoundActivities(dataBoundCall);
const stream = dataBoundActivities(longStream);

export interface ImportProblem {
  /** The original (path under the folder, or the seed catalog's path / line). */
  original: string;
  type: string;
  reason: string;
}

export interface ImportedArtifact {
  original: string;
  id: string;
  kind: ImportKind;
  parentId: string | null;
  originalSha256: string;
  bytes: number;
  toLsn: string;
}

export interface ImportResult {
  cloud: string;
  host: string;
  source: ImportedFrom['source'];
  imported: ImportedArtifact[];
  /** Already in the repository (imported before): nothing was done. */
  already: { original: string; id: string }[];
  problems: ImportProblem[];
}

export interface ImportKollaInput {
  cloud: string;
  host: string;
  /** The mariadb_backup volume's folder on the host (usually /var/lib/docker/volumes/mariadb_backup/_data). */
  dir: string;
  toolVersion?: string;
}

export async function importKollaBackupsWorkflow(input: ImportKollaInput): Promise<ImportResult> {
  const { cloud, host, dir } = input;
  tag(cloud);
  const steps = new Steps(['list backups', 'plan']);
  const listed = await steps.run(
    'list backups',
    () => stream.importListKollaBackups({ cloud, host, dir }),
    (l) => `${l.length} files`,
  );
  const known = await steps.run('plan', () => short.importListKnownArtifacts({ cloud }));
  const plan = planKollaImport(listed, known);
  const result: ImportResult = {
    cloud,
    host,
    source: 'kolla-mariadb_backup',
    imported: [],
    already: plan.already.map((a) => ({ original: a.rel, id: a.id })),
    problems: plan.problems.map((p) => ({ original: p.rel, type: p.type, reason: p.reason })),
  };
  const importer = new Importer(cloud, known, input.toolVersion, steps, result);
  for (const c of plan.toImport) {
    const path = `${dir.replace(/\/+$/, '')}/${c.rel}`;
    await importer.importOne({
      original: c.rel,
      kind: c.kind,
      startedAt: c.takenAt,
      // the file was last written when gzip finished: the backup's end
      completedAt: Date.parse(c.mtime) >= Date.parse(c.takenAt) ? c.mtime : c.takenAt,
      stream: { cloud, host, source: { kind: 'file', path }, decode: ['gzip'], expectOriginalSha256: c.sha256 },
      imported: { source: 'kolla-mariadb_backup', host, path },
    });
  }
  steps.finish(result.problems.length ? `done: ${result.problems.length} NOT IMPORTED` : 'done');
  return result;
}

export interface ImportSeedInput {
  cloud: string;
  /** Where the catalog and the backups it lists are (read over SSH). */
  host: string;
  catalogPath: string;
  /** For openssl-encrypted entries: a file on the worker holding the seed's passphrase. */
  opensslPassphraseFile?: string;
  toolVersion?: string;
}

export async function importSeedBackupsWorkflow(input: ImportSeedInput): Promise<ImportResult> {
  const { cloud, host } = input;
  tag(cloud);
  const steps = new Steps(['read catalog', 'plan']);
  const { text } = await steps.run('read catalog', () =>
    short.importReadSeedCatalog({ cloud, host, path: input.catalogPath }),
  );
  const parsed = parseSeedCatalog(text);
  const { candidates, skipped } = planSeedImport(parsed.rows);
  const known = await steps.run(
    'plan',
    () => short.importListKnownArtifacts({ cloud }),
    () => `${candidates.length} database entries`,
  );
  const result: ImportResult = {
    cloud,
    host,
    source: 'seed-catalog',
    imported: [],
    already: [],
    problems: [
      ...parsed.problems.map((p) => ({
        original: `${input.catalogPath} line ${p.line}`,
        type: 'CatalogRowInvalid',
        reason: p.reason,
      })),
      ...skipped.map((s) => ({ original: `${s.path} (line ${s.line})`, type: 'NotImportable', reason: s.reason })),
    ],
  };
  const importer = new Importer(cloud, known, input.toolVersion, steps, result);
  for (const c of candidates) {
    const before = known.find(
      (k) =>
        k.originalPath === `${host}:${c.row.path}` || (c.expectSha256 !== null && k.originalSha256 === c.expectSha256),
    );
    if (before) {
      result.already.push({ original: c.row.path, id: before.id });
      continue;
    }
    if (c.source.decode.includes('openssl') && !input.opensslPassphraseFile) {
      result.problems.push({
        original: c.row.path,
        type: 'NotImportable',
        reason: 'openssl-encrypted: give the passphrase file the seed used (--passphrase-file)',
      });
      continue;
    }
    await importer.importOne({
      original: c.row.path,
      kind: c.kind,
      startedAt: c.row.timestamp,
      completedAt: c.row.timestamp,
      stream: {
        cloud,
        host,
        source: { kind: c.source.kind, path: c.row.path },
        decode: c.source.decode,
        // a folder's checksum column cannot be checked (the seed ran sha256sum on a folder)
        expectOriginalSha256: c.source.kind === 'folder' ? undefined : (c.expectSha256 ?? undefined),
        openssl: c.source.decode.includes('openssl') ? { passphraseFile: input.opensslPassphraseFile! } : undefined,
      },
      imported: {
        source: 'seed-catalog',
        host,
        path: c.row.path,
        catalogRow: { timestamp: c.row.timestamp, level: c.row.level, size: c.row.size, checksum: c.row.checksum },
      },
    });
  }
  steps.finish(result.problems.length ? `done: ${result.problems.length} NOT IMPORTED` : 'done');
  return result;
}

function tag(cloud: string): void {
  upsertSearchAttributes([
    { key: CLOUD, value: cloud },
    { key: COMPONENT, value: 'database' },
    { key: TIER, value: 'import' },
  ]);
}

interface OneImport {
  original: string;
  kind: ImportKind;
  startedAt: string;
  completedAt: string;
  stream: Omit<ImportStreamInput, 'id'>;
  imported: Pick<ImportedFrom, 'source' | 'host' | 'path' | 'catalogRow'>;
}

/** Imports originals one by one, oldest first, so each incremental finds its parent among what came before. */
class Importer {
  private readonly ids: Set<string>;
  constructor(
    private readonly cloud: string,
    private readonly known: KnownArtifact[],
    private readonly toolVersion: string | undefined,
    private readonly steps: Steps,
    private readonly result: ImportResult,
  ) {
    this.ids = new Set(known.map((k) => k.id));
  }

  private problem(original: string, type: string, reason: string): void {
    this.result.problems.push({ original, type, reason });
  }

  async importOne(c: OneImport): Promise<void> {
    const id = importedId(c.kind, c.startedAt, this.ids);
    let s: ImportStreamResult;
    try {
      s = await this.steps.run(
        `import ${c.original}`,
        () => stream.importStreamArtifact({ ...c.stream, id }),
        (r) =>
          `${r.checkpoints.backupType} LSN ${r.checkpoints.fromLsn}→${r.checkpoints.toLsn}, ${r.originalBytes} → ${r.bytes} bytes`,
      );
    } catch (e) {
      const cause = e instanceof ActivityFailure ? e.cause : undefined;
      if (cause instanceof ApplicationFailure && cause.type && PER_FILE_FAILURES.includes(cause.type)) {
        this.problem(c.original, cause.type, cause.message);
        return;
      }
      throw e;
    }
    const discard = () =>
      CancellationScope.nonCancellable(() => data.repositoryDiscardStaging({ stagingDir: s.stagingDir }));
    try {
      const kind: ImportKind = s.checkpoints.backupType === 'incremental' ? 'incremental' : 'full';
      if (kind !== c.kind) {
        await discard();
        this.problem(
          c.original,
          'ImportSourceCorrupt',
          `named or catalogued as a ${c.kind} backup, but its xtrabackup_checkpoints say ${s.checkpoints.backupType}: not imported (renamed or mixed up?)`,
        );
        return;
      }
      let parentId: string | null = null;
      if (kind === 'incremental') {
        const parent = parentByLsn(s.checkpoints.fromLsn, c.startedAt, this.known);
        if (!parent) {
          await discard();
          this.problem(
            c.original,
            'ChainBroken',
            `incremental from LSN ${s.checkpoints.fromLsn}, but no backup in the repository or in this import ends at that LSN (its base is missing or was not importable): not imported as part of a chain`,
          );
          return;
        }
        parentId = parent.id;
      }
      const now = new Date().toISOString();
      const manifest: ArtifactManifest = {
        formatVersion: MANIFEST_FORMAT,
        id,
        cloud: this.cloud,
        component: 'database',
        kind,
        parentId,
        startedAt: c.startedAt,
        completedAt: c.completedAt,
        workflowId: workflowInfo().workflowId,
        source: s.source,
        artifact: databaseArtifactSection(s, 'worker'),
        mariadb: {
          serverVersion: s.serverVersion,
          mariabackupVersion: s.mariabackupVersion,
          checkpoints: s.checkpoints,
          binlog: s.binlog,
        },
        tables: [],
        imported: {
          ...c.imported,
          originalSha256: s.originalSha256,
          originalBytes: s.originalBytes,
          decoded: s.decoded,
          importedAt: now,
        },
        timings: { streamSeconds: s.seconds, totalSeconds: s.seconds },
        tools: { ...s.tools, osbackup: this.toolVersion ?? 'unknown' },
        restoreRecipe: RECIPE_FILE,
      };
      await data.repositoryPublishDatabaseBackup({ stagingDir: s.stagingDir, manifest });
      this.ids.add(id);
      this.known.push({
        id,
        kind,
        fromLsn: s.checkpoints.fromLsn,
        toLsn: s.checkpoints.toLsn,
        completedAt: c.completedAt,
        originalSha256: s.originalSha256,
        originalPath: `${c.imported.host}:${c.imported.path}`,
      });
      this.result.imported.push({
        original: c.original,
        id,
        kind,
        parentId,
        originalSha256: s.originalSha256,
        bytes: s.bytes,
        toLsn: s.checkpoints.toLsn,
      });
    } catch (e) {
      await discard();
      throw e;
    }
  }
}
