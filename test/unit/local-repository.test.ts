import { mkdirSync, mkdtempSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalRepository } from '../../activities/storage/local-repository.js';
import type { ArtifactManifest } from '../../core/manifest/manifest.js';

const fresh = () => new LocalRepository(join(mkdtempSync(join(tmpdir(), 'osb-repo-')), 'repo'));

describe('local repository', () => {
  test('is created private, and staging is collected only when abandoned', async () => {
    const repo = fresh();
    const live = await repo.createStaging('db-full-live');
    writeFileSync(join(live, 'data'), 'x');
    const dead = join(repo.root, '.staging', 'db-full-dead.0000');
    mkdirSync(dead);
    writeFileSync(join(dead, 'data'), 'partial');
    const old = new Date(Date.now() - 7 * 3600_000);
    utimesSync(join(dead, 'data'), old, old);
    utimesSync(dead, old, old);
    expect(statSync(repo.root).mode & 0o777).toBe(0o700);
    expect(await repo.collectStaleStaging()).toEqual(['db-full-dead.0000']);
    expect(readdirSync(join(repo.root, '.staging'))).toEqual([live.split('/').pop()]);
  });

  test('publish moves the staged folder, writes the manifest last, and is idempotent', async () => {
    const repo = fresh();
    const staged = await repo.createStaging('db-full-x');
    writeFileSync(join(staged, 'data.xb.zst.gpg'), 'bytes');
    const m = {
      id: 'db-full-x',
      cloud: 'c',
      component: 'database',
      startedAt: '2026-01-01T00:00:00Z',
      artifact: { file: 'data.xb.zst.gpg' },
    } as unknown as ArtifactManifest;
    await repo.publish(staged, 'clouds/c/database/db-full-x', m, { 'RESTORE.md': 'recipe' });
    expect(readdirSync(join(repo.root, 'clouds/c/database/db-full-x')).sort()).toEqual([
      'RESTORE.md',
      'data.xb.zst.gpg',
      'manifest.json',
    ]);
    expect(readdirSync(join(repo.root, '.staging'))).toEqual([]);
    await repo.publish(staged, 'clouds/c/database/db-full-x', m, {}); // a retried publish is a no-op
    expect((await repo.scanManifests()).map((x) => x.id)).toEqual(['db-full-x']);
    // a folder without a manifest is not a backup
    mkdirSync(join(repo.root, 'clouds/c/database/db-full-y'), { recursive: true });
    expect((await repo.scanManifests('c')).map((x) => x.id)).toEqual(['db-full-x']);
  });

  test('a backup whose facts come from the backup reads them from its first verified restore', async () => {
    const repo = fresh();
    const rel = 'clouds/c/database/db-full-f';
    const staged = await repo.createStaging('db-full-f');
    writeFileSync(join(staged, 'data.xb.zst.gpg'), 'bytes');
    const m = {
      id: 'db-full-f',
      cloud: 'c',
      component: 'database',
      startedAt: '2026-01-01T00:00:00Z',
      artifact: { file: 'data.xb.zst.gpg' },
      tables: [],
      factsFrom: 'backup',
      listedTables: [{ table: 'a.x', engine: 'InnoDB', estimatedRows: 2 }],
    } as unknown as ArtifactManifest;
    await repo.publish(staged, rel, m, {});
    expect(((await repo.readManifest(rel)) as ArtifactManifest).tables).toEqual([]);
    const reading = (rows: number) => ({
      formatVersion: 1 as const,
      backupId: 'db-full-f',
      cloud: 'c',
      toLsn: '100',
      readAt: '2026-01-02T00:00:00Z',
      host: 'scratch1',
      workflowId: 'w',
      serverVersion: '10.11',
      tables: [{ table: 'a.x', rows, checksum: '77' }],
    });
    expect(await repo.writeReferenceFacts(rel, reading(3))).toBe(true);
    expect(await repo.writeReferenceFacts(rel, reading(4))).toBe(false); // the first reading stays
    const read = (await repo.readManifest(rel)) as ArtifactManifest;
    expect(read.tables).toEqual([{ table: 'a.x', rows: 3, checksum: '77', stable: true }]);
    expect(read.factsReference).toEqual({ readAt: '2026-01-02T00:00:00Z', host: 'scratch1', workflowId: 'w' });
  });
});
