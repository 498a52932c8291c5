// How long listing and refreshing a target's catalog take with N artifacts, on a local folder
// and on an S3 store (the lab's Swift): the catalog's list() runs on every `osbackup catalog
// list`, `describe` and metrics scrape, and refresh() after every publish, proof, check and
// deletion. Measured: list() with the index in step ("steady"), list() after `pending`
// refreshes by other workers since the last listing, one refresh(), and list() with no index
// at all (the first read after a format change: a rebuild).
// Run: node dist/bench/catalog-list.js [local|s3] [N=2000] [pending=50]
//   s3 needs OSBACKUP_S3_ENDPOINT and OSBACKUP_S3_KEY_DIR (as `./dev itest` sets them).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalog } from '../activities/catalog/catalog.js';
import { S3Store } from '../activities/storage/s3-store.js';
import { FsTarget, S3TargetStore, type TargetStore } from '../activities/storage/target.js';
import { s3TargetSchema } from '../config/s3-target-schema.js';
import { artifactDir, checkRecordKey, MANIFEST_FILE } from '../core/manifest/manifest.js';
import { DEFAULT_RETENTION_POLICY } from '../core/retention/policy.js';
import { median } from './lib/stats.js';

const [kind = 'local', nArg = '2000', pendingArg = '50'] = process.argv.slice(2);
const n = Number(nArg);
const pending = Number(pendingArg);

function manifest(i: number) {
  const at = new Date(Date.UTC(2026, 0, 1) + i * 3600_000).toISOString();
  return {
    formatVersion: 1,
    id: `db-full-${String(i).padStart(6, '0')}`,
    cloud: 'c',
    component: 'database',
    kind: 'full',
    parentId: null,
    startedAt: at,
    completedAt: at,
    workflowId: 'bench',
    source: { host: 'ctl1' },
    artifact: { file: 'data.xb.zst.gpg', bytes: 3, sha256: 'ab'.repeat(32), streamBytes: 9 },
    mariadb: { checkpoints: { fromLsn: '0', toLsn: '10' }, binlog: null },
  };
}

async function pool<T>(items: T[], width: number, fn: (x: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

async function time(fn: () => Promise<unknown>, reps: number): Promise<{ median: number; max: number }> {
  const xs: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    xs.push(performance.now() - t0);
  }
  return { median: Math.round(median(xs)), max: Math.round(Math.max(...xs)) };
}

async function openStore(): Promise<{ t: TargetStore; done: () => Promise<void> }> {
  if (kind === 'local') {
    const root = mkdtempSync(join(tmpdir(), 'osb-catalog-list-'));
    return {
      t: new FsTarget('bench', 'local', root, DEFAULT_RETENTION_POLICY),
      done: async () => rmSync(root, { recursive: true, force: true }),
    };
  }
  const endpoint = process.env.OSBACKUP_S3_ENDPOINT;
  const dir = process.env.OSBACKUP_S3_KEY_DIR;
  if (!endpoint || !dir) throw new Error('s3 needs OSBACKUP_S3_ENDPOINT and OSBACKUP_S3_KEY_DIR');
  const s3 = s3TargetSchema.parse({
    endpoint,
    bucket: readFileSync(join(dir, 's3-bucket'), 'utf8').trim(),
    prefix: `bench-catalog-list-${process.pid}/`,
    accessKeyId: { file: join(dir, 's3-access-key') },
    secretAccessKey: { file: join(dir, 's3-secret-key') },
  });
  const t = new S3TargetStore('bench', () => S3Store.fromTarget(s3, process.env), DEFAULT_RETENTION_POLICY, {
    bucket: s3.bucket,
    prefix: s3.prefix,
    endpoint,
  });
  return {
    t,
    done: async () => {
      await t.deleteKeys((await t.list('')).map((o) => o.key));
      t.close();
    },
  };
}

async function main(): Promise<void> {
  const { t, done } = await openStore();
  try {
    const ids = Array.from({ length: n }, (_, i) => i);
    await pool(ids, 16, async (i) => {
      const m = manifest(i);
      const dir = artifactDir(m.cloud, m.component, m.id);
      await t.putText(`${dir}/data.xb.zst.gpg`, 'xyz');
      await t.putText(`${dir}/${MANIFEST_FILE}`, JSON.stringify(m));
    });
    const rebuild = await time(() => new Catalog(t).rebuild(), 1);
    const steady = await time(() => new Catalog(t).list(), 5);
    // other workers' scrubs since the last listing: a check record and a refresh each
    const scrubbed = ids.slice(0, pending).map(manifest);
    await pool(scrubbed, 8, async (m) => {
      const at = new Date(Date.UTC(2027, 0, 1)).toISOString();
      await t.putText(
        checkRecordKey(m.cloud, m.component, m.id, at),
        JSON.stringify({
          formatVersion: 1,
          backupId: m.id,
          cloud: m.cloud,
          component: m.component,
          checkedAt: at,
          workflowId: 'b',
          result: 'CHECKED',
          files: [],
        }),
      );
    });
    const refresh = await time(async () => {
      for (const m of scrubbed) await new Catalog(t).refresh(m.cloud, m.component, m.id);
    }, 1);
    const afterPending = await time(() => new Catalog(t).list(), 1);
    const steadyAgain = await time(() => new Catalog(t).list(), 3);
    const rows = await new Catalog(t).list();
    const checked = rows.filter((r) => r.check === 'CHECKED').length;
    await t.deleteKeys(['catalog/index.json']);
    const noIndex = await time(() => new Catalog(t).list(), 1);
    console.log(
      JSON.stringify({
        store: kind,
        artifacts: n,
        rows: rows.length,
        checked,
        rebuildMs: rebuild.median,
        listSteadyMs: steady.median,
        listSteadyMaxMs: steady.max,
        refreshMs: Math.round(refresh.median / pending),
        [`listAfter${pending}RefreshesMs`]: afterPending.median,
        listSteadyAfterMs: steadyAgain.median,
        listWithoutIndexMs: noIndex.median,
      }),
    );
  } finally {
    await done();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
