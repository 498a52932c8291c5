// `osbackup describe` and `osbackup logs` on the real lab: a real chain (full ← incremental)
// described with its parents, dependents, stored files whose sizes and hashes match the
// repository, and the hand recipe; a run's history read back as steps; an unknown id and a
// failed run reported with the cause and a non-zero exit.
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ArtifactDescription } from '../../core/catalog/describe.js';
import type { HistoryItem } from '../../core/inspect/history.js';
import { cli, configWithOwnRepo, startWorker, type WorkerProcess } from '../helpers/lab.js';

let own: ReturnType<typeof configWithOwnRepo>;
let worker: WorkerProcess;
const runs: Record<'full' | 'incremental', { backupId: string; workflowId: string }> = {} as never;

async function backup(kind: 'full' | 'incremental') {
  const r = await cli(own.configFile, ['--json', 'backup', 'db', `--${kind}`, '--wait']);
  if (r.exitCode !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as { backupId: string; workflowId: string };
}

beforeAll(async () => {
  // zstd -19 on the worker: the lab's ~80 MB stream then lasts long enough (≥ 10 s) for the
  // progress tests to see several heartbeats
  own = configWithOwnRepo('inspect', (c) =>
    Object.assign(c.clouds.lab.database, { compressionLevel: 19, compressOn: 'worker' }),
  );
  worker = await startWorker(own.configFile);
  runs.full = await backup('full');
  runs.incremental = await backup('incremental');
});

afterAll(async () => {
  await worker?.stop();
  if (own) rmSync(own.dir, { recursive: true, force: true });
});

test('describe shows the chain a restore needs, the stored files as they are on disk, and the recipe', async () => {
  const r = await cli(own.configFile, ['--json', 'describe', runs.incremental.backupId]);
  expect(r.exitCode).toBe(0);
  const d = JSON.parse(r.stdout) as ArtifactDescription;
  expect(d.chain.map((c) => c.id)).toEqual([runs.full.backupId, runs.incremental.backupId]);
  expect(d.missingParent).toBeNull();
  expect(d.manifest?.id).toBe(runs.incremental.backupId);
  const dir = join(own.repo, 'clouds/lab/database', runs.incremental.backupId);
  for (const f of d.files) expect(f.bytes).toBe(statSync(join(dir, f.key)).size);
  expect(d.files.map((f) => f.key)).toEqual(expect.arrayContaining(['manifest.json', 'RESTORE.md']));
  const data = d.entry.path.split('/').pop()!;
  expect(
    createHash('sha256')
      .update(readFileSync(join(dir, data)))
      .digest('hex'),
  ).toBe(d.entry.sha256);
  expect(d.recipe).toBe(readFileSync(join(dir, 'RESTORE.md'), 'utf8'));

  const text = await cli(own.configFile, ['describe', runs.incremental.backupId]);
  expect(text.stdout).toContain(`1. ${runs.full.backupId}`);
  expect(text.stdout).toMatch(new RegExp(`2\\. ${runs.incremental.backupId}.*← this`));
  expect(text.stdout).toContain('gpg --decrypt');

  const full = JSON.parse(
    (await cli(own.configFile, ['--json', 'describe', runs.full.backupId])).stdout,
  ) as ArtifactDescription;
  expect(full.dependents).toEqual([runs.incremental.backupId]);
});

test('describe of an id the repository does not hold names it and says where the ids are', async () => {
  const r = await cli(own.configFile, ['describe', 'full-19700101T000000Z']);
  expect(r.exitCode).toBe(1);
  expect(r.stderr).toContain('[BackupNotFound]');
  expect(r.stderr).toContain('osbackup catalog list');
});

test('logs lists a backup run as its steps, each completed once, and the run as completed', async () => {
  const r = await cli(own.configFile, ['--json', 'logs', runs.incremental.workflowId]);
  expect(r.exitCode).toBe(0);
  const { items } = JSON.parse(r.stdout) as { items: HistoryItem[] };
  expect(items[0]).toMatchObject({ kind: 'started', name: 'backupDatabaseWorkflow' });
  const acts = items.filter((i): i is Extract<HistoryItem, { kind: 'activity' }> => i.kind === 'activity');
  expect(acts.length).toBeGreaterThan(2);
  for (const a of acts) expect(a.outcome).toBe('completed');
  expect(items.at(-1)).toMatchObject({ kind: 'ended', name: 'completed' });
  const text = await cli(own.configFile, ['logs', runs.incremental.workflowId]);
  for (const a of acts) expect(text.stdout).toContain(a.name);
});

test('logs of a failed run shows the failure with its type and exits non-zero; an unknown run is a usage error', async () => {
  const failed = await cli(own.configFile, ['restore', 'db', '--to', 'ctl2', '--backup', 'full-19700101T000000Z']);
  expect(failed.exitCode).toBe(1);
  const workflowId = /started (\S+)/.exec(failed.stderr)![1]!;
  const r = await cli(own.configFile, ['logs', workflowId]);
  expect(r.exitCode).toBe(1);
  expect(r.stdout).toMatch(/■ FAILED: \[BackupNotFound\]/);
  const unknown = await cli(own.configFile, ['logs', 'no-such-workflow']);
  expect(unknown.exitCode).toBe(64);
  expect(unknown.stderr).toContain('no workflow "no-such-workflow"');
});

/** "12.3 MiB" → bytes. */
const parseBytes = (t: string) => {
  const [n, u] = t.split(' ');
  return Number(n) * 1024 ** ['B', 'KiB', 'MiB', 'GiB', 'TiB'].indexOf(u!);
};

test('--wait in a pseudo-terminal redraws one line whose byte count grows while the backup streams', async () => {
  const { execa } = await import('execa');
  const cmd = `node dist/client/cli.js --config ${own.configFile} backup db --full --wait`;
  // script(1) gives the CLI a real pty, as an operator's terminal would
  const r = await execa('script', ['-qfec', cmd, '/dev/null'], { reject: false });
  expect(r.exitCode).toBe(0);
  expect(r.stdout).toContain('\r\x1b[2K');
  const seen = [...r.stdout.matchAll(/step \d+\/\d+ stream backup {2}([\d.]+ (?:B|KiB|MiB|GiB))/g)].map((m) =>
    parseBytes(m[1]!),
  );
  expect(new Set(seen).size).toBeGreaterThanOrEqual(2);
  for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]!);
  expect(seen.at(-1)!).toBeGreaterThan(seen[0]!);
  expect(r.stdout).toMatch(/✓ stream backup \(\d+ bytes stored/);
});

test('watch follows a run started elsewhere with plain lines when not a terminal, and ends with it', async () => {
  const started = await cli(own.configFile, ['--json', 'backup', 'db', '--full']);
  const { workflowId } = JSON.parse(started.stdout) as { workflowId: string };
  const r = await cli(own.configFile, ['watch', workflowId]);
  expect(r.exitCode).toBe(0);
  expect(r.stderr).not.toContain('\r');
  expect(r.stderr).toMatch(/… step \d+\/\d+ /);
  expect(r.stderr).toContain('✓ publish');
  expect(r.stdout).toBe(`${workflowId} completed`); // execa strips the final newline
});
