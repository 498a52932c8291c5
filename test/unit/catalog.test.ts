// The per-target catalog on a real folder: new manifests are picked up, a folder deleted
// behind osbackup's back stays listed as MISSING (not forgotten), and a rebuild starts afresh.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalog } from '../../activities/catalog/catalog.js';
import { FsTarget } from '../../activities/storage/target.js';
import { artifactDir, MANIFEST_FILE, type ArtifactManifest } from '../../core/manifest/manifest.js';
import { DEFAULT_RETENTION_POLICY } from '../../core/retention/policy.js';

const root = mkdtempSync(join(tmpdir(), 'osb-catalog-'));
const target = new FsTarget('local', 'local', root, DEFAULT_RETENTION_POLICY);
afterAll(() => rmSync(root, { recursive: true, force: true }));

function manifest(id: string, startedAt: string): ArtifactManifest {
  return {
    id,
    cloud: 'c',
    component: 'database',
    kind: 'full',
    parentId: null,
    startedAt,
    completedAt: startedAt,
    source: { host: 'ctl1' },
    artifact: { file: 'data.xb.zst.gpg', bytes: 3, sha256: 'ab'.repeat(32), streamBytes: 9 },
    mariadb: { checkpoints: { fromLsn: '0', toLsn: '10' }, binlog: null },
  } as unknown as ArtifactManifest;
}

async function publish(m: ArtifactManifest) {
  const dir = artifactDir(m.cloud, m.component, m.id);
  await target.putText(`${dir}/data.xb.zst.gpg`, 'xyz');
  await target.putText(`${dir}/${MANIFEST_FILE}`, JSON.stringify(m));
}

test('vanished folders stay listed as MISSING; new ones are added; rebuild forgets', async () => {
  const catalog = new Catalog(target);
  await publish(manifest('db-full-1', '2026-11-01T00:00:00Z'));
  await publish(manifest('db-full-2', '2026-11-02T00:00:00Z'));
  expect((await catalog.rebuild()).map((e) => [e.id, e.check, e.target])).toEqual([
    ['db-full-1', 'UNCHECKED', 'local'],
    ['db-full-2', 'UNCHECKED', 'local'],
  ]);
  rmSync(join(root, artifactDir('c', 'database', 'db-full-1')), { recursive: true });
  await publish(manifest('db-full-3', '2026-11-03T00:00:00Z'));
  const listed = await catalog.list();
  expect(listed.map((e) => [e.id, e.check])).toEqual([
    ['db-full-1', 'MISSING'],
    ['db-full-2', 'UNCHECKED'],
    ['db-full-3', 'UNCHECKED'],
  ]);
  expect(listed[0]!.lastCheckedAt).not.toBeNull();
  // the state is kept in the index: a second listing (a new worker) still says MISSING
  expect((await new Catalog(target).list()).find((e) => e.id === 'db-full-1')!.check).toBe('MISSING');
  // an explicit rebuild reads the storage alone
  expect((await catalog.rebuild()).map((e) => e.id)).toEqual(['db-full-2', 'db-full-3']);
  // a deletion by osbackup (refresh after the purge) drops the entry at once
  rmSync(join(root, artifactDir('c', 'database', 'db-full-2')), { recursive: true });
  await catalog.refresh('c', 'database', 'db-full-2');
  expect((await catalog.list()).map((e) => [e.id, e.check])).toEqual([['db-full-3', 'UNCHECKED']]);
});

test('a scrub batch (refreshMany) brings its check records into the index at once and forgets no vanished artifact', async () => {
  const catalog = new Catalog(target);
  await publish(manifest('db-full-7', '2026-11-07T00:00:00Z'));
  await publish(manifest('db-full-8', '2026-11-08T00:00:00Z'));
  await catalog.rebuild();
  const checkedAt = '2026-11-09T00:00:00.000Z';
  await target.putText(
    `${artifactDir('c', 'database', 'db-full-7')}/checks/20261109T000000000Z.json`,
    JSON.stringify({
      formatVersion: 1,
      backupId: 'db-full-7',
      cloud: 'c',
      component: 'database',
      target: 'local',
      checkedAt,
      workflowId: 'w',
      result: 'CORRUPT',
      files: [],
    }),
  );
  rmSync(join(root, artifactDir('c', 'database', 'db-full-8')), { recursive: true });
  await catalog.refreshMany('c', [
    { component: 'database', id: 'db-full-7' },
    { component: 'database', id: 'db-full-8' },
  ]);
  const rows = (await new Catalog(target).list()).filter((e) => ['db-full-7', 'db-full-8'].includes(e.id));
  expect(rows.map((e) => [e.id, e.check, e.workflowId === undefined])).toEqual([
    ['db-full-7', 'CORRUPT', true],
    // gone from the storage: still listed, as MISSING
    ['db-full-8', 'MISSING', true],
  ]);
});
