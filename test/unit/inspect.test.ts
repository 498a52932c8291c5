// The human forms of `osbackup describe` and `osbackup logs`, from synthetic inputs.
import type { CatalogEntry } from '../../core/catalog/catalog.js';
import { describeText, type ArtifactDescription } from '../../core/catalog/describe.js';
import { historyText, type HistoryItem } from '../../core/inspect/history.js';

const row = (id: string, kind: string, parentId: string | null, over: Partial<CatalogEntry> = {}): CatalogEntry => ({
  id,
  cloud: 'prod',
  component: 'database',
  kind,
  parentId,
  startedAt: '2026-11-30T01:00:00.000Z',
  completedAt: '2026-11-30T01:02:00.000Z',
  sourceHost: 'ctl1',
  bytes: 3 * 1024 * 1024,
  streamBytes: 12 * 1024 * 1024,
  sha256: 'ab'.repeat(32),
  path: `clouds/prod/database/${id}/data.xb.zst.gpg`,
  toLsn: '100',
  binlog: null,
  verification: 'UNVERIFIED',
  lastVerifiedAt: null,
  target: 'local',
  check: 'CHECKED',
  lastCheckedAt: '2026-11-30T02:00:00.000Z',
  imported: null,
  ...over,
});

const base = (over: Partial<ArtifactDescription> = {}): ArtifactDescription => {
  const full = row('full-1', 'full', null, { verification: 'VERIFIED', lastVerifiedAt: '2026-11-30T03:00:00.000Z' });
  const inc = row('inc-2', 'incremental', 'full-1');
  return {
    target: 'local',
    location: '/srv/osbackup/',
    entry: inc,
    chain: [full, inc],
    missingParent: null,
    dependents: ['inc-3'],
    manifest: null,
    files: [
      { key: 'data.xb.zst.gpg', bytes: 3145728 },
      { key: 'RESTORE.md', bytes: 900 },
    ],
    recipe: '# Restore\ngpg --decrypt data.xb.zst.gpg | zstd -d | mbstream -x\n',
    ...over,
  };
};

test('describe: the chain in restore order with this artifact marked, dependents, files, the recipe indented', () => {
  const t = describeText(base());
  expect(t).toContain('inc-2  (database incremental, cloud prod, target local)');
  expect(t).toContain('/srv/osbackup/clouds/prod/database/inc-2/data.xb.zst.gpg');
  expect(t).toContain('3.0 MiB (12.0 MiB before compression)');
  expect(t.indexOf('1. full-1')).toBeLessThan(t.indexOf('2. inc-2'));
  expect(t).toMatch(/2\. inc-2 .*← this/);
  expect(t).toContain(
    '1. full-1  full  2026-11-30T01:02:00.000Z  CHECKED 2026-11-30T02:00:00.000Z · VERIFIED 2026-11-30T03:00:00.000Z',
  );
  expect(t).toContain('needed by: inc-3');
  expect(t).toContain('  gpg --decrypt data.xb.zst.gpg | zstd -d | mbstream -x');
  expect(t).toContain('the manifest has gone');
});

test('describe: a broken chain and a missing recipe are said plainly', () => {
  const inc = row('inc-2', 'incremental', 'full-1');
  const t = describeText(base({ chain: [inc], missingParent: 'full-1', dependents: [], recipe: null }));
  expect(t).toContain('! full-1, the parent of inc-2, is not on this target: the chain is broken');
  expect(t).toContain('no RESTORE.md');
  expect(t).not.toContain('needed by');
});

test('logs: steps with durations and attempts, the retry cause, the final failure, and a running run said to be running', () => {
  const items: HistoryItem[] = [
    { at: '2026-11-30T01:00:00.123Z', kind: 'started', name: 'backupDatabaseWorkflow' },
    {
      at: '2026-11-30T01:00:01.000Z',
      kind: 'activity',
      name: 'streamBackup',
      outcome: 'completed',
      attempts: 2,
      seconds: 12.34,
      retryFailure: '[SshConnectionLost] the link dropped',
    },
    {
      at: '2026-11-30T01:00:14.000Z',
      kind: 'activity',
      name: 'publish',
      outcome: 'failed',
      attempts: 1,
      seconds: 0.2,
      failure: '[DiskFull] no space',
    },
    { at: '2026-11-30T01:00:15.000Z', kind: 'ended', name: 'failed', failure: '[DiskFull] no space' },
  ];
  const t = historyText('backup-db:prod:x', items);
  expect(t).toContain('2026-11-30 01:00:00Z  started backupDatabaseWorkflow');
  expect(t).toMatch(/✓ streamBackup\s+completed 12\.3 s, 2 attempts/);
  expect(t).toContain('retried after: [SshConnectionLost] the link dropped');
  expect(t).toMatch(/✗ publish\s+failed 0\.2 s\n.*failure: \[DiskFull\] no space/);
  expect(t).toContain('■ FAILED: [DiskFull] no space');
  expect(t).not.toContain('still running');
  expect(historyText('w', items.slice(0, 3))).toContain('(still running; 1 activity failures so far)');
});
