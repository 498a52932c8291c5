// Case 12: the repository in the lab's Swift (S3 API) against the repository on the worker's
// disk, same database, same worker code: full backups (mariabackup → zstd → gpg → multipart
// upload, confirmed by HEAD) and restores of the newest one onto ctl2 (GET → sha256 → gpg → ssh →
// zstd -d → mbstream, prepare, move back). Incompressible rows are added so the bytes the store
// takes are of the same order as the stream.
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { S3Store } from '../../activities/storage/s3-store.js';
import type { Config } from '../../config/schema.js';
import { sql, startWorker, temporalClient } from '../../test/helpers/lab.js';
import { timed } from '../lib/sh.js';
import { log, repeat, type Sample } from '../lib/stats.js';

export interface S3RepoCaseInput {
  local: { config: Config; configFile: string };
  s3: { config: Config; configFile: string };
  cloud: string;
  source: string;
  target: string;
  /** MB of incompressible rows added to the source for the case (dropped after). */
  extraMB: number;
  reps: number;
}

export interface S3RepoCaseResult {
  streamBytes: number;
  storedBytes: number;
  partSizeMiB: number;
  queueSize: number;
  samples: { localBackup: Sample[]; s3Backup: Sample[]; localRestore: Sample[]; s3Restore: Sample[] };
  workerPeakRssMiB: { local: number; s3: number };
}

async function runRepository(
  name: 'local' | 's3',
  inp: S3RepoCaseInput,
  c: { config: Config; configFile: string },
  sizes: { stream: number; stored: number },
): Promise<{ backup: Sample[]; restore: Sample[]; rss: number }> {
  const worker = await startWorker(c.configFile);
  const { client, close } = await temporalClient(c.configFile);
  const tq = c.config.temporal.taskQueue;
  try {
    const backup = await repeat(inp.reps, `${name} repository: full backup`, async (rep) => {
      const { seconds, value } = await timed(() =>
        client.workflow.execute('backupDatabaseWorkflow', {
          taskQueue: tq,
          workflowId: `bench-s3repo-${name}-backup-${process.pid}-${rep}`,
          args: [{ cloud: inp.cloud, kind: 'full', tier: 'bench' }],
        }),
      );
      const r = value as { streamBytes: number; bytes: number; streamSeconds: number };
      sizes.stream = r.streamBytes;
      sizes.stored = r.bytes;
      return {
        seconds,
        bytes: r.streamBytes,
        extra: { streamPhaseSeconds: r.streamSeconds, storedMB: r.bytes / 1e6 },
      };
    });
    const restore = await repeat(inp.reps, `${name} repository: restore onto ${inp.target}`, async (rep) => {
      const { seconds, value } = await timed(() =>
        client.workflow.execute('restoreDatabaseWorkflow', {
          taskQueue: tq,
          workflowId: `bench-s3repo-${name}-restore-${process.pid}-${rep}`,
          args: [{ cloud: inp.cloud, targetHost: inp.target, verify: false }],
        }),
      );
      const r = value as { asideDir: string | null; timings: { streamSeconds: number } };
      if (r.asideDir) await rm(r.asideDir, { recursive: true, force: true });
      return { seconds, bytes: sizes.stream, extra: { streamSeconds: r.timings.streamSeconds } };
    });
    const status = readFileSync(`/proc/${worker.proc.pid}/status`, 'utf8');
    return { backup, restore, rss: Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024 };
  } finally {
    await close();
    await worker.stop();
  }
}

export async function s3RepositoryCase(inp: S3RepoCaseInput): Promise<S3RepoCaseResult> {
  const repo = inp.s3.config.repository;
  if (repo.type !== 's3') throw new Error('the s3 config of the case must have an S3 repository');
  const schema = `bench_s3repo_${process.pid}`;
  log(`s3-repo: adding ${inp.extraMB} MB of incompressible rows to ${inp.source}`);
  await sql(
    inp.source,
    `CREATE DATABASE ${schema}; USE ${schema}; CREATE TABLE big (id INT PRIMARY KEY, b BLOB); INSERT INTO big SELECT seq, random_bytes(1024) FROM seq_1_to_${inp.extraMB * 1000}`,
  );
  const sizes = { stream: 0, stored: 0 };
  const store = await S3Store.fromTarget(repo, process.env);
  try {
    const local = await runRepository('local', inp, inp.local, sizes);
    const s3 = await runRepository('s3', inp, inp.s3, sizes);
    return {
      streamBytes: sizes.stream,
      storedBytes: sizes.stored,
      partSizeMiB: repo.partSizeMiB,
      queueSize: repo.queueSize,
      samples: { localBackup: local.backup, s3Backup: s3.backup, localRestore: local.restore, s3Restore: s3.restore },
      workerPeakRssMiB: { local: local.rss, s3: s3.rss },
    };
  } finally {
    await sql(inp.source, `DROP DATABASE IF EXISTS ${schema}`).catch(() => undefined);
    await store.abortStaleUploads('', 0).catch(() => undefined);
    await store.deleteMany((await store.list('')).map((o) => o.key)).catch(() => undefined);
    store.destroy();
  }
}
