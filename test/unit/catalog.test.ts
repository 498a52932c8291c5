// The per-target catalog on a real folder: new manifests are picked up, a folder deleted
// behind osbackup's back stays listed as MISSING (not forgotten), a rebuild starts afresh, and
// workers updating it at once (test/helpers/catalog-race.ts) lose no update.
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalog, INDEX_FILE } from '../../activities/catalog/catalog.js';
import { FsTarget } from '../../activities/storage/target.js';
import { artifactDir, MANIFEST_FILE, type ArtifactManifest } from '../../core/manifest/manifest.js';
import { DEFAULT_RETENTION_POLICY } from '../../core/retention/policy.js';
import * as race from '../helpers/catalog-race.js';

const root = mkdtempSync(join(tmpdir(), 'osb-catalog-'));
const target = new FsTarget('local', 'local', root, DEFAULT_RETENTION_POLICY);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const manifest = (id: string, startedAt: string) => race.manifest('c', id, startedAt);

const publish = (m: ArtifactManifest) => race.publish(target, m);

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

test('three workers scrubbing, deleting and publishing at once (each held between its read and its write) lose no update', async () => {
  expect(await race.publishCheckDeleteAtOnce(target, 'race')).toEqual([
    ['db-full-x', 'CHECKED'],
    ['db-full-z', 'UNCHECKED'],
  ]);
});

test('a listing that compacts while other workers scrub and delete (held between its read and its write) loses nothing', async () => {
  expect(await race.compactWhileOthersWrite(target, 'compact')).toEqual([
    ['db-full-x', 'CHECKED'],
    ['db-full-w', 'UNCHECKED'],
  ]);
});

describe('the files under catalog/', () => {
  const own = mkdtempSync(join(tmpdir(), 'osb-catalog-files-'));
  const t = new FsTarget('local', 'local', own, DEFAULT_RETENTION_POLICY);
  afterAll(() => rmSync(own, { recursive: true, force: true }));
  const x = race.manifest('c', 'db-full-x', '2026-11-01T00:00:00Z');
  const y = race.manifest('c', 'db-full-y', '2026-11-02T00:00:00Z');
  const recordOfX = join(own, 'catalog/entries/c/database/db-full-x.json');
  const deletionOfY = join(own, 'catalog/deleted/c/database/db-full-y.json');
  const index = () =>
    JSON.parse(readFileSync(join(own, INDEX_FILE), 'utf8')) as {
      formatVersion: number;
      writtenAt: string;
      folded: Record<string, string>;
    };
  const age = (file: string, ms: number) => utimesSync(file, new Date(Date.now() - ms), new Date(Date.now() - ms));

  test('an index of an older format is read again from the storage on first read; its MISSING rows stay', async () => {
    await race.publish(t, x);
    await race.publish(t, y);
    const row = (id: string, over: object) => ({ ...race.manifest('c', id, '2026-10-01T00:00:00Z'), ...over });
    await t.putText(
      INDEX_FILE,
      JSON.stringify({
        formatVersion: 2,
        rebuiltAt: '2026-01-01T00:00:00Z',
        entries: [
          row('db-full-x', { check: 'CORRUPT', lastCheckedAt: '2026-10-02T00:00:00Z' }),
          row('db-full-old', { check: 'MISSING', lastCheckedAt: '2026-10-03T00:00:00Z' }),
        ],
      }),
    );
    expect(race.rowsOf(await new Catalog(t).list(), 'c')).toEqual([
      ['db-full-old', 'MISSING'],
      ['db-full-x', 'UNCHECKED'],
      ['db-full-y', 'UNCHECKED'],
    ]);
    expect(index().formatVersion).toBe(3);
    expect(race.rowsOf(await new Catalog(t).rebuild(), 'c')).toEqual([
      ['db-full-x', 'UNCHECKED'],
      ['db-full-y', 'UNCHECKED'],
    ]);
  });

  test('a refresh before any listing leaves a record that the first listing keeps, even when its folder is gone by then', async () => {
    const z = race.manifest('c', 'db-full-z', '2026-11-03T00:00:00Z');
    rmSync(join(own, INDEX_FILE));
    await race.publish(t, z);
    await new Catalog(t).refresh('c', 'database', z.id);
    await race.deleteArtifact(t, z);
    expect(race.rowsOf(await new Catalog(t).list(), 'c')).toEqual([
      ['db-full-x', 'UNCHECKED'],
      ['db-full-y', 'UNCHECKED'],
      ['db-full-z', 'MISSING'],
    ]);
    await new Catalog(t).rebuild();
  });

  test('a refresh writes its own record; a listing folds it in, skips it afterwards, and deletes it once old', async () => {
    await race.writeCheck(t, x, 'CORRUPT', '2026-11-04T00:00:00.000Z');
    await new Catalog(t).refresh('c', 'database', x.id);
    expect(JSON.parse(readFileSync(recordOfX, 'utf8'))).toMatchObject({ entry: { id: x.id, check: 'CORRUPT' } });
    expect((await new Catalog(t).list()).find((e) => e.id === x.id)!.check).toBe('CORRUPT');
    expect(Object.keys(index().folded)).toEqual(['catalog/entries/c/database/db-full-x.json']);
    // folded and unchanged: the next listing reads nothing new and rewrites nothing
    const written = index().writtenAt;
    await new Catalog(t).list();
    expect(index().writtenAt).toBe(written);
    age(recordOfX, 16 * 60_000);
    expect((await new Catalog(t).list()).find((e) => e.id === x.id)!.check).toBe('CORRUPT');
    expect(existsSync(recordOfX)).toBe(false);
    expect((await new Catalog(t).list()).find((e) => e.id === x.id)!.check).toBe('CORRUPT');
  });

  test('a deletion record forgets the artifact and is itself deleted after a day; rebuild clears catalog/', async () => {
    await race.deleteArtifact(t, y);
    await new Catalog(t).refresh('c', 'database', y.id);
    expect(existsSync(deletionOfY)).toBe(true);
    expect(race.rowsOf(await new Catalog(t).list(), 'c')).toEqual([['db-full-x', 'CORRUPT']]);
    age(deletionOfY, 25 * 3600_000);
    await new Catalog(t).list();
    expect(existsSync(deletionOfY)).toBe(false);
    expect(race.rowsOf(await new Catalog(t).list(), 'c')).toEqual([['db-full-x', 'CORRUPT']]);
    await new Catalog(t).refresh('c', 'database', x.id);
    expect(existsSync(recordOfX)).toBe(true);
    expect(race.rowsOf(await new Catalog(t).rebuild(), 'c')).toEqual([['db-full-x', 'CORRUPT']]);
    expect(existsSync(join(own, 'catalog/entries'))).toBe(false);
  });
});
