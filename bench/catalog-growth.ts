// How the catalog index scales with binlog segments (issue 7 part 3's decision). One archiver at
// 5 s segments publishes up to 17,280 segments a day, and each publish refreshes the target's
// catalog/index.json (read, replace one entry, rewrite). This times that refresh, the
// planner's manifest scan and the catalog's listing at the index sizes a day, a week and a
// month of segments reach, on a real filesystem target. Run: node dist/bench/catalog-growth.js [sizes…]
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalog, INDEX_FILE } from '../activities/catalog/catalog.js';
import { FsTarget } from '../activities/storage/target.js';
import { LocalRepository } from '../activities/storage/local-repository.js';
import { catalogEntry } from '../core/catalog/catalog.js';
import { binlogSegmentId, type BinlogManifest } from '../core/pitr/segments.js';
import { artifactDir } from '../core/manifest/manifest.js';
import { timeMs } from './lib/stats.js';

function manifest(i: number): BinlogManifest {
  const pos = 4 + i * 1000;
  const at = new Date(Date.UTC(2026, 10, 30) + i * 5000).toISOString();
  return {
    formatVersion: 1,
    id: binlogSegmentId('ctl1', 'mysql-bin.000042', pos),
    cloud: 'c',
    component: 'binlog',
    kind: 'binlog',
    parentId: null,
    startedAt: at,
    completedAt: at,
    workflowId: 'archive-binlogs:c',
    source: { host: 'ctl1', address: '10.0.0.1', containerRuntime: 'docker', serverId: 1 },
    binlog: {
      file: 'mysql-bin.000042',
      sequence: 42,
      startPosition: pos,
      endPosition: pos + 1000,
      events: 10,
      firstEventAt: at,
      lastEventAt: at,
      firstGtid: `0-1-${i * 2}`,
      lastGtid: `0-1-${i * 2 + 1}`,
      serverIds: [1],
      archivedThrough: at,
      previous: null,
    },
    artifact: {
      file: 'segment.zst.gpg',
      bytes: 700,
      sha256: 'a'.repeat(64),
      streamBytes: 1000,
      layers: ['binlog', 'zstd', 'openpgp'],
      compression: { format: 'zstd', level: 3, where: 'worker' },
      encryption: { format: 'openpgp', cipher: 'AES256', passphrase: true, recipientFingerprints: [] },
    },
    tools: { zstd: 'v1.5.4', gpg: '2.2.40', osbackup: 'bench' },
    restoreRecipe: 'RESTORE.md',
  } as BinlogManifest;
}

async function main(): Promise<void> {
  const sizes = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => n > 0);
  for (const n of sizes.length ? sizes : [1000, 17_280, 120_960]) {
    const root = mkdtempSync(join(tmpdir(), 'osb-catalog-growth-'));
    try {
      // the folders as the archiver leaves them (manifest, sealed segment, recipe)
      const entries = [];
      for (let i = 0; i < n; i++) {
        const m = manifest(i);
        const dir = join(root, artifactDir('c', 'binlog', m.id));
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m, null, 2));
        writeFileSync(join(dir, 'segment.zst.gpg'), 'x'.repeat(700));
        writeFileSync(join(dir, 'RESTORE.md'), 'recipe');
        entries.push(catalogEntry(m, []));
      }
      mkdirSync(join(root, 'catalog'));
      writeFileSync(
        join(root, INDEX_FILE),
        JSON.stringify({ formatVersion: 1, rebuiltAt: new Date().toISOString(), entries }, null, 2) + '\n',
      );
      const t = new FsTarget('bench', 'local', root, {} as never);
      const catalog = new Catalog(t);
      const last = manifest(n - 1);
      const refresh = await timeMs(() => catalog.refresh('c', 'binlog', last.id), 5);
      const list = await timeMs(() => catalog.list('c'), 3);
      const scan = await timeMs(() => new LocalRepository(root).scanManifests('c'), 3);
      const kib = (await t.list('catalog/')).reduce((s, o) => s + o.bytes, 0) / 1024;
      console.log(
        JSON.stringify({
          segments: n,
          indexMiB: +(kib / 1024).toFixed(1),
          refreshMs: +refresh.median.toFixed(0),
          refreshMaxMs: +refresh.max.toFixed(0),
          listMs: +list.median.toFixed(0),
          planScanMs: +scan.median.toFixed(0),
        }),
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
