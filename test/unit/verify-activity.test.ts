// The check activity on a real folder target: outcomes, CheckRecords beside the manifest, and
// the resume rule (a retried batch of the same run reuses the records already written).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { checkArtifacts, planVerify, type VerifyPlan } from '../../activities/verify/verify.js';
import type { ArtifactCheck } from '../../core/verify/report.js';
import { Env } from '../../activities/deps.js';
import type { Config } from '../../config/schema.js';
import { retentionPolicySchema } from '../../core/retention/policy.js';
import { artifactDir, type CheckRecord } from '../../core/manifest/manifest.js';

const root = mkdtempSync(join(tmpdir(), 'osb-verify-unit-'));
const config = {
  repository: { name: 'local', path: root, retention: retentionPolicySchema.parse({}) },
  targets: {},
} as unknown as Config;
const env = new Env({ config, env: {}, ssh: undefined as never });
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function artifact(id: string, kind: 'full' | 'incremental', parentId: string | null, at: string, data: Buffer): void {
  const dir = join(root, artifactDir('c', 'database', id));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'data.xb.zst.gpg'), data);
  const m = {
    id,
    cloud: 'c',
    component: 'database',
    kind,
    parentId,
    startedAt: at,
    completedAt: at,
    artifact: { file: 'data.xb.zst.gpg', bytes: data.length, sha256: sha(data), encryption: {} },
    mariadb: { checkpoints: { fromLsn: kind === 'full' ? '0' : '10', toLsn: kind === 'full' ? '10' : '20' } },
  };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
}

afterAll(() => rmSync(root, { recursive: true, force: true }));

test('outcomes, records beside the manifest, and a retried batch of the same run resumes', async () => {
  artifact('f1', 'full', null, '2026-11-01T00:00:00.000Z', Buffer.alloc(5000, 1));
  artifact('i1', 'incremental', 'f1', '2026-11-02T00:00:00.000Z', Buffer.alloc(3000, 2));
  const mock = new MockActivityEnvironment();
  const plan = (await mock.run(planVerify, env, {
    cloud: 'c',
    target: 'local',
    since: '2026-11-02T00:00:00.000Z',
  })) as VerifyPlan;
  expect(plan.toCheck).toEqual([{ id: 'i1', component: 'database', bytes: 3000 }]);
  expect(plan.nodes.map((n) => n.id)).toEqual(['f1', 'i1']);
  expect(plan.expected).toBeNull();

  const batch = {
    cloud: 'c',
    target: 'local',
    artifacts: [
      { id: 'f1', component: 'database' },
      { id: 'i1', component: 'database' },
    ],
    workflowId: 'verify:c:1',
  };
  const first = (await mock.run(checkArtifacts, env, batch)) as ArtifactCheck[];
  expect(first.map((c) => c.result)).toEqual(['CHECKED', 'CHECKED']);
  const rec = JSON.parse(
    readFileSync(
      join(root, artifactDir('c', 'database', 'f1'), 'checks', `${first[0]!.checkedAt.replace(/[:.]/g, '')}.json`),
      'utf8',
    ),
  ) as CheckRecord;
  expect(rec).toMatchObject({ backupId: 'f1', target: 'local', result: 'CHECKED', workflowId: 'verify:c:1' });

  // damage, then the same run retried: the records already written stand (nothing re-read)
  truncateSync(join(root, artifactDir('c', 'database', 'i1'), 'data.xb.zst.gpg'), 100);
  expect(await mock.run(checkArtifacts, env, batch)).toEqual(first);
  // a new run reads again
  const second = (await mock.run(checkArtifacts, env, { ...batch, workflowId: 'verify:c:2' })) as ArtifactCheck[];
  expect(second.map((c) => c.result)).toEqual(['CHECKED', 'CORRUPT']);
  expect(second[1]!.files[0]).toMatchObject({ outcome: 'truncated', actualBytes: 100, expectedBytes: 3000 });

  rmSync(join(root, artifactDir('c', 'database', 'i1'), 'data.xb.zst.gpg'));
  const third = (await mock.run(checkArtifacts, env, { ...batch, workflowId: 'verify:c:3' })) as ArtifactCheck[];
  expect(third[1]).toMatchObject({
    result: 'MISSING',
    files: [expect.objectContaining({ outcome: 'missing', actualBytes: null })],
  });
});

test('a share that is not mounted is refused, never reported as "everything missing"', async () => {
  const share = join(root, 'share');
  mkdirSync(join(share, 'osbackup'), { recursive: true });
  const nfsEnv = new Env({
    config: {
      ...config,
      targets: {
        nfs: {
          type: 'nfs',
          path: join(share, 'osbackup'),
          mountPoint: share,
          retention: retentionPolicySchema.parse({}),
        },
      },
    } as unknown as Config,
    env: {},
    ssh: undefined as never,
  });
  await expect(
    new MockActivityEnvironment().run(planVerify, nfsEnv, { cloud: 'c', target: 'nfs', since: null }),
  ).rejects.toMatchObject({
    type: 'TargetNotMounted',
    message: expect.stringContaining(`${share} is not a mount point`),
  });
});
