// The catalogList activity on real folder targets: its pages put together are every target's
// catalog in order, a share that is not mounted is named once, the pages after the first show
// the catalog as it was when the listing began, and a rebuild answers with counts.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { catalogActivities, type CatalogListInput } from '../../activities/catalog/activities.js';
import { createActivityContext } from '../../activities/context.js';
import type { Deps } from '../../activities/index.js';
import { FsTarget } from '../../activities/storage/target.js';
import { parseConfig } from '../../config/load.js';
import type { CatalogEntry } from '../../core/catalog/catalog.js';
import type { CatalogPage } from '../../core/catalog/page.js';
import { artifactDir, MANIFEST_FILE } from '../../core/manifest/manifest.js';
import { DEFAULT_RETENTION_POLICY } from '../../core/retention/policy.js';
import { cloudYaml, configYaml } from '../helpers/config-fixture.js';

const root = mkdtempSync(join(tmpdir(), 'osb-catalog-pages-'));
const dirs = { repo: join(root, 'repo'), nas: join(root, 'nas'), gone: join(root, 'gone') };
for (const d of Object.values(dirs)) mkdirSync(d);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const parsed = parseConfig(
  configYaml(
    cloudYaml('a'),
    `targets:
  nas: { type: local, path: ${dirs.nas} }
  gone: { type: nfs, path: ${dirs.gone}, mountPoint: ${dirs.gone} }
`,
  ),
);
const deps: Deps = {
  config: { ...parsed, repository: { ...parsed.repository, type: 'local', path: dirs.repo } },
  env: {},
  ssh: undefined as never,
};
const ctx = createActivityContext(deps);
const { catalogList, catalogRebuild } = catalogActivities(ctx);
const repoName = deps.config.repository.name;

async function publish(dir: string, i: number, cloud = i % 3 ? 'a' : 'b') {
  const at = new Date(Date.UTC(2026, 0, 1) + i * 3600_000).toISOString();
  const id = `db-full-${String(i).padStart(4, '0')}`;
  const t = new FsTarget('t', 'local', dir, DEFAULT_RETENTION_POLICY);
  const folder = artifactDir(cloud, 'database', id);
  await t.putText(`${folder}/data.xb.zst.gpg`, 'xyz');
  await t.putText(
    `${folder}/${MANIFEST_FILE}`,
    JSON.stringify({
      formatVersion: 1,
      id,
      cloud,
      component: 'database',
      kind: 'full',
      parentId: null,
      startedAt: at,
      completedAt: at,
      source: { host: 'ctl1' },
      artifact: { file: 'data.xb.zst.gpg', bytes: 3, sha256: 'ab'.repeat(32), streamBytes: 9 },
      mariadb: { checkpoints: { fromLsn: '0', toLsn: '10' }, binlog: null },
    }),
  );
}

async function pages(input: CatalogListInput): Promise<CatalogPage[]> {
  const out: CatalogPage[] = [];
  let after: string | undefined;
  do {
    const p = await catalogList({ ...input, after });
    out.push(p);
    after = p.next;
  } while (after);
  return out;
}

const ids = (rows: CatalogEntry[]) => rows.map((r) => `${r.target}:${r.id}`);

beforeAll(async () => {
  for (let i = 0; i < 25; i++) await publish(dirs.repo, i);
  for (let i = 100; i < 107; i++) await publish(dirs.nas, i);
});

test('the pages of every target are the whole catalog in order; a share not mounted is named once', async () => {
  const whole = [...(await (await ctx.catalogOf(repoName)).list()), ...(await (await ctx.catalogOf('nas')).list())];
  expect(whole).toHaveLength(32);
  const got = await pages({ limit: 10 });
  expect(got.map((p) => p.rows.length)).toEqual([10, 10, 10, 2]);
  expect(ids(got.flatMap((p) => p.rows))).toEqual(ids(whole));
  expect(got.map((p) => p.unavailable.map((u) => u.target))).toEqual([[], [], [], ['gone']]);
  expect(got[3]!.unavailable[0]!.reason).toMatch(/not a mount point/);
  // one cloud: the same order, only its rows
  const b = await pages({ cloud: 'b', limit: 4 });
  expect(ids(b.flatMap((p) => p.rows))).toEqual(ids(whole.filter((r) => r.cloud === 'b')));
  // no limit: one page holds this small catalog
  const all = await catalogList({});
  expect(all.next).toBeUndefined();
  expect(ids(all.rows)).toEqual(ids(whole));
});

test('one target named: only its rows, and its failure fails the page', async () => {
  expect(ids((await pages({ target: 'nas', limit: 3 })).flatMap((p) => p.rows))).toEqual(
    Array.from({ length: 7 }, (_, i) => `nas:db-full-0${100 + i}`),
  );
  await expect(catalogList({ target: 'gone' })).rejects.toMatchObject({ type: 'TargetNotMounted' });
});

test('the pages after the first show the catalog as the listing began; a new listing shows what came since', async () => {
  const first = await catalogList({ target: repoName, limit: 5 });
  await publish(dirs.repo, 40, 'a');
  let after = first.next;
  const rest: CatalogEntry[] = [];
  while (after) {
    const p = await catalogList({ target: repoName, limit: 5, after });
    rest.push(...p.rows);
    after = p.next;
  }
  expect(first.rows.length + rest.length).toBe(25);
  expect(ids(rest)).not.toContain(`${repoName}:db-full-0040`);
  const again = (await pages({ target: repoName, limit: 5 })).flatMap((p) => p.rows);
  expect(ids(again).at(-1)).toBe(`${repoName}:db-full-0040`);
});

test('bad limits and cursors are refused for good, naming the fix', async () => {
  for (const bad of [{ limit: 0 }, { maxBytes: 10 * 1024 * 1024 }, { after: 'x' }]) {
    const e = await catalogList(bad).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ApplicationFailure);
    expect(e).toMatchObject({ type: 'ConfigInvalid', nonRetryable: true, message: expect.stringMatching(/Fix: /) });
  }
});

test('a rebuild answers with rows per target, not the rows', async () => {
  expect(await catalogRebuild({ target: 'nas' })).toEqual([{ target: 'nas', rows: 7, verified: 0 }]);
  await expect(catalogRebuild({})).rejects.toMatchObject({ type: 'TargetNotMounted' });
});
