// Logical dumps, the runbooks. Taking one: one mariadb-dump run (one snapshot) split into sealed
// per-schema files, published with the manifest last. Restoring one: every file it needs is
// re-hashed first, then each schema is imported into the target host's server.
import { workflowInfo, upsertSearchAttributes, CancellationScope } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { DumpImportResult } from '../activities/dump/restore.js';
import { dumpId, type DumpManifest } from '../core/dump/dump.js';
import { compactUtc } from '../core/ids.js';
import { MANIFEST_FORMAT, RECIPE_FILE } from '../core/manifest/manifest.js';
import { longStream, shortCall, shortActivities, dataBoundActivities, dataBoundCall } from './options.js';
import { Steps } from './progress.js';
import { CLOUD, COMPONENT, TIER } from './search-attributes.js';

const short = shortActivities(shortCall);
const data = dataBoundActivities(dataBoundCall);
const stream = dataBoundActivities(longStream);

export interface LogicalDumpInput {
  cloud: string;
  /** Schemas to dump (default: the config's dumps.schemas, else every non-system schema). */
  schemas?: string[];
  tier?: string;
  toolVersion?: string;
}

export interface LogicalDumpResult {
  dumpId: string;
  path: string;
  snapshotAt: string;
  gtid: string | null;
  binlog: { file: string; position: number } | null;
  schemas: { name: string; tables: number; plainBytes: number; bytes: number; sha256: string }[];
  seconds: number;
  partsDigest: string;
}

export async function logicalDumpWorkflow(input: LogicalDumpInput): Promise<LogicalDumpResult> {
  const info = workflowInfo();
  const started = new Date(info.startTime);
  const { cloud } = input;
  upsertSearchAttributes([
    { key: CLOUD, value: cloud },
    { key: COMPONENT, value: 'dump' },
    { key: TIER, value: input.tier ?? 'manual' },
  ]);
  const steps = new Steps(['dump', 'publish']);
  const id = dumpId(compactUtc(started));
  const d = await steps.run(
    'dump',
    () => stream.mariadbDump({ cloud, dumpId: id, schemas: input.schemas }),
    (r) =>
      `${r.dump.schemas.length} schemas, ${r.dump.schemas.reduce((n, s) => n + s.plainBytes, 0)} bytes of SQL in ${r.seconds.toFixed(1)} s; snapshot ${r.dump.snapshotAt}${r.dump.binlog ? ` at ${r.dump.binlog.file}:${r.dump.binlog.position}` : ''}`,
  );
  try {
    const manifest: Omit<DumpManifest, 'partsDigest'> = {
      formatVersion: MANIFEST_FORMAT,
      id,
      cloud,
      component: 'dump',
      kind: 'logical',
      parentId: null,
      startedAt: started.toISOString(),
      completedAt: new Date().toISOString(),
      workflowId: info.workflowId,
      source: d.source,
      dump: d.dump,
      compression: { format: 'zstd', level: d.compressionLevel, where: 'worker' },
      encryption: d.encryption,
      tools: { ...d.tools, osbackup: input.toolVersion ?? 'unknown' },
      restoreRecipe: RECIPE_FILE,
    };
    const published = await steps.run('publish', () =>
      data.repositoryPublishDump({ stagingDir: d.stagingDir, manifest }),
    );
    steps.finish('done');
    return {
      dumpId: id,
      path: published.path,
      snapshotAt: d.dump.snapshotAt,
      gtid: d.dump.gtid,
      binlog: d.dump.binlog,
      schemas: d.dump.schemas.map((s) => ({
        name: s.name,
        tables: s.tables,
        plainBytes: s.plainBytes,
        bytes: s.bytes,
        sha256: s.sha256,
      })),
      seconds: d.seconds,
      partsDigest: published.partsDigest,
    };
  } catch (e) {
    await CancellationScope.nonCancellable(() => data.repositoryDiscardStaging({ stagingDir: d.stagingDir }));
    throw e;
  }
}

export interface RestoreDumpInput {
  cloud: string;
  targetHost: string;
  /** Default: the newest dump. */
  dumpId?: string;
  /** Default: every schema of the dump. */
  schemas?: string[];
}

export type RestoreDumpResult = DumpImportResult & { snapshotAt: string; verifiedBytes: number };

export async function restoreDumpWorkflow(input: RestoreDumpInput): Promise<RestoreDumpResult> {
  const { cloud, targetHost } = input;
  upsertSearchAttributes([
    { key: CLOUD, value: cloud },
    { key: COMPONENT, value: 'dump' },
    { key: TIER, value: 'restore' },
  ]);
  const steps = new Steps(['choose dump', 'verify files', 'import', 'done']);
  const found = await steps.run(
    'choose dump',
    () => short.repositoryFindDump({ cloud, dumpId: input.dumpId, schemas: input.schemas }),
    (r) => `${r.id} (snapshot ${r.snapshotAt}): ${r.schemas.join(', ')}`,
  );
  const v = await steps.run(
    'verify files',
    () => stream.repositoryVerifyDump({ cloud, dumpId: found.id, schemas: found.schemas }),
    (r) => `${r.bytes} bytes: SHA-256 as recorded`,
  );
  const r = await steps.run(
    'import',
    () => stream.mariadbImportDump({ cloud, dumpId: found.id, schemas: found.schemas, targetHost }),
    (x) => x.schemas.map((s) => `${s.name}: ${s.tables} tables`).join(', '),
  );
  steps.finish('done');
  return { ...r, snapshotAt: found.snapshotAt, verifiedBytes: v.bytes };
}
