// The pure parts of importing: Kolla's names (both generations, odd and damaged ones), the
// plan (oldest first, idempotent by original SHA-256), parents by LSN, ids, the seed's
// catalog.csv, and imported manifests in the catalog, the recipe and retention.
import {
  importedId,
  parentByLsn,
  parseKollaBackupName,
  parseSeedCatalog,
  planKollaImport,
  planSeedImport,
  seedSource,
  type KnownArtifact,
  type ListedFile,
} from '../../core/import/import.js';
import { catalogEntry, catalogTable } from '../../core/catalog/catalog.js';
import { databaseRestoreRecipe } from '../../core/manifest/recipe.js';
import type { ArtifactManifest } from '../../core/manifest/manifest.js';
import { planRetention, retentionArtifactFromManifest } from '../../core/retention/plan.js';
import { retentionPolicySchema } from '../../core/retention/policy.js';

const E = 1796008485; // 2026-11-30T03:14:45Z
const iso = (epoch: number) => new Date(epoch * 1000).toISOString();

describe("Kolla's mariadb_backup names", () => {
  test('Kolla 12–20: flat full and incremental, the time from the epoch', () => {
    expect(parseKollaBackupName(`mysqlbackup-30-11-2026-${E}.qp.xbc.xbs.gz`)).toEqual({
      rel: `mysqlbackup-30-11-2026-${E}.qp.xbc.xbs.gz`,
      kind: 'full',
      takenAt: iso(E),
      layout: 'flat',
    });
    expect(parseKollaBackupName(`incremental-03-mysqlbackup-30-11-2026-${E + 5}.qp.xbc.xbs.gz`)).toMatchObject({
      kind: 'incremental',
      takenAt: iso(E + 5),
      layout: 'flat',
    });
    // find prints ./ first; the shorter spelling of the suffix is accepted too
    expect(parseKollaBackupName(`./mysqlbackup-30-11-2026-${E}.qp.xb.gz`)).toMatchObject({
      kind: 'full',
      takenAt: iso(E),
    });
  });

  test('Kolla 21+: a folder per backup; the incremental carries its own time and its full', () => {
    expect(parseKollaBackupName(`full-30-11-2026-${E}/mysqlbackup-30-11-2026-${E}.qp.xbc.xbs.gz`)).toMatchObject({
      kind: 'full',
      takenAt: iso(E),
      layout: 'folders',
    });
    expect(
      parseKollaBackupName(
        `incr-04-05-06-30-11-2026-since-30-11-2026-${E}/incremental-04-05-06-30-11-2026-mysqlbackup-30-11-2026-${E}.qp.xbc.xbs.gz`,
      ),
    ).toMatchObject({ kind: 'incremental', takenAt: '2026-11-30T04:05:06.000Z', layout: 'folders' });
  });

  test('files that are not backups are ignored; damaged or foreign names are problems with a reason', () => {
    for (const f of ['last_full_date', 'last_full_file', 'mariabackup.log', 'full-30-11-2026-1/notes.txt'])
      expect(parseKollaBackupName(f)).toBeNull();
    const problem = (f: string) => (parseKollaBackupName(f) as { reason: string }).reason;
    expect(problem(`mysqlbackup-30-11-2026-${E}.qp.xbc.xbs`)).toMatch(/qpress/);
    expect(problem(`mysqlbackup-30-11-2026-${E}.qp.xbc.xbs.gz.1`)).toMatch(/not a Kolla backup name/);
    expect(problem(`mysqlbackup-31-02-2026-${E}.qp.xbc.xbs.gz`)).toMatch(/does not parse/); // no 31 February
    expect(problem(`mysqlbackup-30-11-2026-12ab.qp.xbc.xbs.gz`)).toMatch(/does not parse/);
    expect(problem(`incremental-mysqlbackup-30-11-2026-${E}.qp.xbc.xbs.gz`)).toMatch(/does not parse/);
    // a full moved out of its folder, or into a folder of another date
    expect(problem(`full-29-11-2026-${E}/mysqlbackup-30-11-2026-${E}.qp.xbc.xbs.gz`)).toMatch(/does not parse/);
    expect(
      problem(
        `incr-25-05-06-30-11-2026-since-x/incremental-25-05-06-30-11-2026-mysqlbackup-30-11-2026-${E}.qp.xbc.xbs.gz`,
      ),
    ).toMatch(/does not parse/);
    expect(problem(`a/b/mysqlbackup-30-11-2026-${E}.qp.xbc.xbs.gz`)).toMatch(/does not parse/);
  });
});

const sha = (c: string) => c.repeat(64);
const listed = (rel: string, s: string, mtime = '2026-11-30T03:20:00Z'): ListedFile => ({
  rel,
  bytes: 100,
  mtime,
  sha256: sha(s),
});
const known = (
  id: string,
  kind: 'full' | 'incremental',
  fromLsn: string,
  toLsn: string,
  completedAt: string,
  originalSha256: string | null = null,
): KnownArtifact => ({ id, kind, fromLsn, toLsn, completedAt, originalSha256 });

describe('the import plan', () => {
  test('oldest first, a full before an incremental of the same second; what was imported before is skipped by its bytes', () => {
    const plan = planKollaImport(
      [
        listed(`incremental-05-mysqlbackup-30-11-2026-${E + 7200}.qp.xbc.xbs.gz`, 'c'),
        listed(`incremental-03-mysqlbackup-30-11-2026-${E}.qp.xbc.xbs.gz`, 'b'),
        listed(`mysqlbackup-30-11-2026-${E}.qp.xbc.xbs.gz`, 'a'),
        listed(`mysqlbackup-29-11-2026-${E - 86400}.qp.xbc.xbs.gz`, 'd'),
        listed(`copy-of-mysqlbackup-29-11-2026.qp.xbc.xbs.gz`, 'e'),
        listed('last_full_date', 'f'),
      ],
      [known('db-full-20261129T031445Z', 'full', '0', '10', iso(E - 86400), sha('d'))],
    );
    expect(plan.toImport.map((c) => c.sha256[0])).toEqual(['a', 'b', 'c']);
    expect(plan.already).toEqual([
      { rel: `mysqlbackup-29-11-2026-${E - 86400}.qp.xbc.xbs.gz`, id: 'db-full-20261129T031445Z' },
    ]);
    expect(plan.problems).toEqual([
      {
        rel: 'copy-of-mysqlbackup-29-11-2026.qp.xbc.xbs.gz',
        type: 'NotImportable',
        reason: expect.stringContaining('does not parse'),
      },
    ]);
  });

  test('the same bytes under two names are imported once', () => {
    const plan = planKollaImport(
      [
        listed(`mysqlbackup-30-11-2026-${E}.qp.xbc.xbs.gz`, 'a'),
        listed(`full-30-11-2026-${E}/mysqlbackup-30-11-2026-${E}.qp.xbc.xbs.gz`, 'a'),
      ],
      [],
    );
    expect(plan.toImport).toHaveLength(1);
    expect(plan.already[0]!.id).toMatch(/same bytes as/);
  });

  test('the parent is the artifact ending where the incremental starts; of several, the newest before it', () => {
    const full = known('f', 'full', '0', '100', iso(E));
    const inc1 = known('i1', 'incremental', '100', '100', iso(E + 60)); // no checkpoint in between: ends where it began
    const later = known('x', 'full', '0', '100', iso(E + 9000)); // taken after the incremental: not its parent
    expect(parentByLsn('100', iso(E + 120), [full, inc1, later])?.id).toBe('i1');
    expect(parentByLsn('100', iso(E + 30), [full, inc1, later])?.id).toBe('f');
    expect(parentByLsn('150', iso(E + 120), [full, inc1])).toBeNull(); // a gap: no chain
  });

  test('ids come from the backup time and never collide with one taken', () => {
    expect(importedId('full', iso(E), new Set())).toBe('db-full-20261130T031445Z');
    expect(importedId('full', iso(E), new Set(['db-full-20261130T031445Z', 'db-full-20261130T031445Z-2']))).toBe(
      'db-full-20261130T031445Z-3',
    );
  });
});

describe("the seed's catalog.csv", () => {
  const text = [
    'timestamp,type,level,path,size,checksum',
    `2026-11-01T02:00:05Z,database,full,/opt/openstack-backups/database/full_20261101_020000,1.2G,`,
    `2026-11-02T02:00:04Z,database,incremental,/opt/openstack-backups/database/inc_20261102_020000,80M,`,
    `2026-11-01T02:30:00Z,config,full,/opt/openstack-backups/config/kolla_20261101,40K,${'ab'.repeat(32)}`,
    `2026-11-03T02:00:00Z,database,full,/opt/openstack-backups/database/full_20261103.xb.gz.enc,1.1G,${'CD'.repeat(32)}`,
    `2026-11-04T02:00:00Z,database,full,/opt/openstack-backups/database/full_20261104.xb.gz,1.1G,not-a-sum`,
    `2026-11-05T02:00:00Z,database,differential,/opt/x,1G,`,
    'garbage line',
    'yesterday,database,full,/opt/y,1G,',
    '2026-11-06T02:00:00Z,database,full,relative/path,1G,',
    '',
  ].join('\n');

  test('rows with six fields are read; every other line is reported with its number', () => {
    const { rows, problems } = parseSeedCatalog(text);
    expect(rows).toHaveLength(6);
    expect(rows[0]).toEqual({
      line: 2,
      timestamp: '2026-11-01T02:00:05.000Z',
      type: 'database',
      level: 'full',
      path: '/opt/openstack-backups/database/full_20261101_020000',
      size: '1.2G',
      checksum: '',
    });
    expect(problems).toEqual([
      { line: 8, reason: expect.stringContaining('expected 6') },
      { line: 9, reason: expect.stringContaining('not a date') },
      { line: 10, reason: expect.stringContaining('not absolute') },
    ]);
  });

  test('database rows oldest first, each with how it is read; the rest skipped with a reason', () => {
    const { candidates, skipped } = planSeedImport(parseSeedCatalog(text).rows);
    expect(candidates.map((c) => [c.row.line, c.kind, c.source, c.expectSha256])).toEqual([
      [2, 'full', { kind: 'folder', decode: ['tar'] }, null],
      [3, 'incremental', { kind: 'folder', decode: ['tar'] }, null],
      [5, 'full', { kind: 'file', decode: ['openssl', 'gzip'] }, 'cd'.repeat(32)],
      [6, 'full', { kind: 'file', decode: ['gzip'] }, null],
    ]);
    expect(skipped.map((s) => [s.line, s.reason])).toEqual([
      [4, expect.stringContaining('not a database backup')],
      [7, expect.stringContaining('neither full nor incremental')],
    ]);
  });

  test('how a seed path is read: folders as tar, archives and streams by their suffixes; dumps refused', () => {
    expect(seedSource('/opt/openstack-backups/database/full_20261101_020000')).toEqual({
      kind: 'folder',
      decode: ['tar'],
    });
    expect(seedSource('/b/full_20261101_020000.tar.gz.enc')).toEqual({
      kind: 'file',
      decode: ['openssl', 'gzip', 'tar'],
    });
    expect(seedSource('/b/full.tgz')).toEqual({ kind: 'file', decode: ['gzip', 'tar'] });
    expect(seedSource('/b/full.tar')).toEqual({ kind: 'file', decode: ['tar'] });
    expect(seedSource('/b/full.xbstream.enc')).toEqual({ kind: 'file', decode: ['openssl'] });
    expect(seedSource('/b/mysqlbackup-30-11-2026-1.qp.xbc.xbs.gz')).toEqual({ kind: 'file', decode: ['gzip'] });
    expect(seedSource('/b/all-databases.sql.gz')).toMatchObject({ reason: expect.stringContaining('logical dump') });
    expect(seedSource('/b/full.zip.enc')).toMatchObject({
      reason: expect.stringContaining('not a tar or xbstream inside'),
    });
    expect(seedSource('/b/notes.txt')).toMatchObject({ reason: expect.stringContaining('unknown kind of file') });
  });
});

describe('imported artifacts are ordinary ones, marked', () => {
  const m = (
    id: string,
    kind: 'full' | 'incremental',
    parentId: string | null,
    fromLsn: string,
    toLsn: string,
    at: string,
  ): ArtifactManifest => ({
    formatVersion: 1,
    id,
    cloud: 'kolla',
    component: 'database',
    kind,
    parentId,
    startedAt: at,
    completedAt: at,
    workflowId: 'import-kolla:kolla:ctl3:x',
    source: { host: 'ctl3', address: '10.0.0.13', containerRuntime: 'docker' },
    artifact: {
      file: 'data.xb.zst.gpg',
      bytes: 10,
      sha256: sha('1'),
      streamBytes: 20,
      layers: ['xbstream', 'zstd', 'openpgp'],
      compression: { format: 'zstd', level: 3, where: 'worker' },
      encryption: { format: 'openpgp', cipher: 'AES256', passphrase: true, recipientFingerprints: [] },
    },
    mariadb: {
      serverVersion: '10.11.18-MariaDB',
      mariabackupVersion: '10.11.18-MariaDB',
      checkpoints: { backupType: kind === 'full' ? 'full-backuped' : 'incremental', fromLsn, toLsn, lastLsn: toLsn },
      binlog: null,
    },
    tables: [],
    imported: {
      source: 'kolla-mariadb_backup',
      host: 'ctl3',
      path: `/v/${id}.gz`,
      originalSha256: sha('9'),
      originalBytes: 5,
      decoded: ['gzip -d'],
      importedAt: '2026-12-01T00:00:00Z',
    },
    timings: { streamSeconds: 1, totalSeconds: 1 },
    tools: { zstd: 'v1', gpg: '2', osbackup: '0' },
    restoreRecipe: 'RESTORE.md',
  });
  const full = m('db-full-20261101T020000Z', 'full', null, '0', '100', '2026-11-01T02:00:00Z');
  const inc = m('db-incremental-20261102T020000Z', 'incremental', full.id, '100', '200', '2026-11-02T02:00:00Z');

  test('the catalog shows where they came from', () => {
    expect(catalogEntry(inc, [])).toMatchObject({
      id: inc.id,
      kind: 'incremental',
      imported: 'kolla-mariadb_backup',
      verification: 'UNVERIFIED',
    });
    expect(catalogTable([catalogEntry(inc, [])])).toContain('incremental (imported)');
  });

  test('the recipe names the original and says that no facts were recorded', () => {
    const r = databaseRestoreRecipe(inc);
    expect(r).toContain('**Imported** (kolla-mariadb_backup) from `ctl3:/v/db-incremental-20261102T020000Z.gz`');
    expect(r).toContain('(no table facts were recorded)');
  });

  test('retention takes them at their original time, as a whole chain', () => {
    expect(retentionArtifactFromManifest(inc)).toEqual({
      id: inc.id,
      kind: 'incremental',
      parentId: full.id,
      takenAt: '2026-11-02T02:00:00Z',
      fromLsn: '100',
      toLsn: '200',
    });
    const plan = planRetention({
      artifacts: [full, inc].map(retentionArtifactFromManifest),
      policy: retentionPolicySchema.parse({ daily: 1, weekly: 0, monthly: 0 }),
      now: new Date('2026-11-20T00:00:00Z'),
    });
    expect(plan.problems).toEqual([]);
    expect(plan.keep.map((k) => k.id).sort()).toEqual([full.id, inc.id].sort());
  });
});
