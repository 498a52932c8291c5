// How long listing and refreshing a target's catalog take with N artifacts, on a local folder
// and on an S3 store (the lab's Swift): the catalog's list() runs on every `osbackup catalog
// list`, `describe` and metrics scrape, and refresh() after every publish, proof, check and
// deletion. Measured: list() with the index in step ("steady"), list() after `pending`
// refreshes by other workers since the last listing, one refresh(), and list() with no index
// at all (the first read after a format change: a rebuild).
// Run: node dist/bench/catalog-list.js [local|s3] [N=2000] [pending=50]
//   s3 needs OSBACKUP_S3_ENDPOINT and OSBACKUP_S3_KEY_DIR (as `./dev itest` sets them).
//
// `pages [N=100000]`: a catalog of N artifacts on a folder target, listed by pages through the
// catalogList activity (core/catalog/page.ts) as `osbackup catalog list` asks for them: pages,
// rows per page, the largest page as JSON and as the encrypted payload Temporal carries, the
// time of the whole listing and per page, and this process's (the worker's) peak RSS.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalog } from '../activities/catalog/catalog.js';
import { S3Store } from '../activities/storage/s3-store.js';
import { FsTarget, S3TargetStore, type TargetStore } from '../activities/storage/target.js';
import { s3TargetSchema } from '../config/s3-target-schema.js';
import { artifactDir, MANIFEST_FILE, type ArtifactManifest } from '../core/manifest/manifest.js';
import { backupDbWorkflowId, databaseBackupId } from '../core/ids.js';
import { DEFAULT_RETENTION_POLICY } from '../core/retention/policy.js';
import { mapBoundedPlain } from './lib/bounded.js';
import { median, timeMs } from './lib/stats.js';
import { defaultPayloadConverter } from '@temporalio/common';
import proto from '@temporalio/proto';
import { catalogActivities } from '../activities/catalog/activities.js';
import { createActivityContext } from '../activities/context.js';
import { parseConfig } from '../config/load.js';
import { AesGcmPayloadCodec } from '../config/payload-codec.js';
import type { CatalogPage } from '../core/catalog/page.js';
import { cloudYaml, configYaml } from '../test/helpers/config-fixture.js';
import * as race from '../test/helpers/catalog-race.js';

const [kind = 'local', nArg = '2000', pendingArg = '50'] = process.argv.slice(2);
const n = Number(nArg);
const pending = Number(pendingArg);

function manifest(i: number): ArtifactManifest {
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
  } as unknown as ArtifactManifest;
}

/** Whole milliseconds, as the bench prints them. */
async function time(fn: () => Promise<unknown>, reps: number): Promise<{ median: number; max: number }> {
  const t = await timeMs(fn, reps);
  return { median: Math.round(t.median), max: Math.round(t.max) };
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
    await mapBoundedPlain(ids, 16, async (i) => {
      await race.publish(t, manifest(i));
    });
    const rebuild = await time(() => new Catalog(t).rebuild(), 1);
    const steady = await time(() => new Catalog(t).list(), 5);
    // other workers' scrubs since the last listing: a check record and a refresh each
    const scrubbed = ids.slice(0, pending).map(manifest);
    const at = new Date(Date.UTC(2027, 0, 1)).toISOString();
    await mapBoundedPlain(scrubbed, 8, (m) => race.writeCheck(t, m, 'CHECKED', at));
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

/**
 * A database chain as a cloud's backups make it (a full a day, incrementals every hour on its
 * parent), written straight into the folder layout the target reads, with a verification
 * record on every full.
 */
function writeChains(root: string, count: number): void {
  const idOf = (i: number) => databaseBackupId(i % 24 ? 'incremental' : 'full', new Date(manifest(i).startedAt));
  for (let i = 0; i < count; i++) {
    const m = manifest(i);
    const full = i % 24 === 0;
    const id = idOf(i);
    const parentId = full ? null : idOf(i - 1);
    const dir = join(root, artifactDir(m.cloud, m.component, id));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'data.xb.zst.gpg'), '');
    writeFileSync(
      join(dir, MANIFEST_FILE),
      JSON.stringify({
        ...m,
        id,
        kind: full ? 'full' : 'incremental',
        parentId,
        workflowId: backupDbWorkflowId(m.cloud, new Date(m.startedAt)),
        source: { host: 'ctl1', address: '10.0.0.11', containerRuntime: 'docker' },
        artifact: { ...m.artifact, sha256: randomBytes(32).toString('hex'), bytes: 1e9 + i, streamBytes: 3e9 + i },
        mariadb: { checkpoints: { fromLsn: String(i * 1000), toLsn: String(i * 1000 + 999) }, binlog: null },
      }),
    );
    if (full) {
      mkdirSync(join(dir, 'verifications'));
      writeFileSync(
        join(dir, 'verifications', `${m.startedAt.replace(/[:.]/g, '')}.json`),
        JSON.stringify({
          formatVersion: 1,
          backupId: id,
          cloud: m.cloud,
          verifiedAt: m.completedAt,
          workflowId: 'verify',
          targetHost: 'verify1',
          result: 'VERIFIED',
          artifactSha256Matched: true,
          tablesCompared: 1,
          tables: [],
        }),
      );
    }
  }
}

async function pages(): Promise<void> {
  const count = Number(process.argv[3] ?? 100_000);
  const root = mkdtempSync(join(tmpdir(), 'osb-catalog-pages-'));
  const peak = { rss: 0 };
  const sampler = setInterval(() => (peak.rss = Math.max(peak.rss, process.memoryUsage.rss())), 10);
  try {
    let t0 = performance.now();
    writeChains(root, count);
    const writeS = (performance.now() - t0) / 1000;
    const parsed = parseConfig(configYaml(cloudYaml('c')));
    const ctx = createActivityContext({
      config: { ...parsed, repository: { ...parsed.repository, type: 'local', path: root } },
      env: {},
      ssh: undefined as never,
    });
    const { catalogList } = catalogActivities(ctx);
    const codec = new AesGcmPayloadCodec(randomBytes(32));
    const { temporal } = proto;
    /** The page as the activity's result travels: JSON payload, encrypted, framed. */
    const payloadBytes = async (p: CatalogPage) =>
      temporal.api.common.v1.Payload.encode((await codec.encode([defaultPayloadConverter.toPayload(p)]))[0]!).finish()
        .length;

    // the first listing of a catalog without an index reads every manifest (a rebuild's cost)
    t0 = performance.now();
    await catalogList({});
    const coldFirstPageMs = performance.now() - t0;
    const rssBefore = process.memoryUsage.rss();
    peak.rss = rssBefore;

    const times: number[] = [];
    const rows: number[] = [];
    let json = 0;
    let payload = 0;
    let after: string | undefined;
    const start = performance.now();
    do {
      const t = performance.now();
      const p = await catalogList({ after });
      times.push(performance.now() - t);
      rows.push(p.rows.length);
      json = Math.max(json, Buffer.byteLength(JSON.stringify(p)));
      payload = Math.max(payload, await payloadBytes(p));
      after = p.next;
    } while (after);
    const wholeMs = performance.now() - start;
    const listPeakRss = peak.rss;
    // what every page would cost if it merged the target's catalog again
    t0 = performance.now();
    await (await ctx.catalogOf(parsed.repository.name)).list();
    const mergeMs = performance.now() - t0;
    const mib = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;
    console.log(
      JSON.stringify({
        store: 'local',
        artifacts: count,
        rows: rows.reduce((a, b) => a + b, 0),
        writeManifestsS: Math.round(writeS),
        coldFirstPageMs: Math.round(coldFirstPageMs),
        pages: rows.length,
        rowsPerPage: { min: Math.min(...rows), median: median(rows), max: Math.max(...rows) },
        largestPageJsonBytes: json,
        largestPagePayloadBytes: payload,
        wholeListingMs: Math.round(wholeMs),
        firstPageMs: Math.round(times[0]!),
        laterPageMs: {
          median: Math.round(median(times.slice(1)) * 10) / 10,
          max: Math.round(Math.max(...times.slice(1)) * 10) / 10,
        },
        oneFullMergeMs: Math.round(mergeMs),
        rssBeforeListingMiB: mib(rssBefore),
        rssPeakListingMiB: mib(listPeakRss),
        rssPeakProcessMiB: mib(process.resourceUsage().maxRSS * 1024),
      }),
    );
  } finally {
    clearInterval(sampler);
    rmSync(root, { recursive: true, force: true });
  }
}

(kind === 'pages' ? pages() : main()).then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
