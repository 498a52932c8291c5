// One database backup of a cloud at a time: a weekly run started by its Temporal Schedule and a
// backup started from the CLI a second later. The second waits for the first's lease; neither's
// mariabackup is touched by the other, and both artifacts are whole.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { ArtifactManifest } from '../../core/manifest/manifest.js';
import {
  cleanUpTemporal,
  cli,
  configWithOwnRepo,
  startWorker,
  temporalClient,
  type WorkerProcess,
} from '../helpers/lab.js';

const cloud = `lease${process.pid}`;
let own: ReturnType<typeof configWithOwnRepo>;
let worker: WorkerProcess;
let client: Client;
let closeClient: () => Promise<void>;
const scheduleIds: string[] = [];
const started: string[] = [];

async function osb(...args: string[]) {
  const r = await cli(own.configFile, ['--json', ...args]);
  if (r.exitCode !== 0) throw new Error(`osbackup ${args.join(' ')} exited ${r.exitCode}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

beforeAll(async () => {
  own = configWithOwnRepo('lease', (c) => {
    const lab = c.clouds.lab;
    // mariabackup throttled to 100 chunks/s: the first backup is still streaming when the second starts
    const slow = join(mkdtempSync(join(tmpdir(), 'osb-lease-')), 'ctl1.cnf');
    writeFileSync(slow, `!include ${lab.hosts.ctl1.mariadb.defaultsFile}\n[mariabackup]\nthrottle=100\n`);
    lab.hosts.ctl1.mariadb.defaultsFile = slow;
    // only the weekly entry: it takes a full backup through the tier workflow
    lab.schedules = {
      entries: {
        daily: { enabled: false },
        controlPlane: { enabled: false },
        monthly: { enabled: false },
        rotate: { enabled: false },
        verify: { enabled: false },
      },
    };
    c.clouds = { [cloud]: lab };
    c.defaultCloud = cloud;
  });
  ({ client, close: closeClient } = await temporalClient(own.configFile));
  worker = await startWorker(own.configFile);
  const applied = await osb('schedules', 'apply');
  scheduleIds.push(...applied.created);
}, 60_000);

afterAll(async () => {
  await cleanUpTemporal(client, scheduleIds, started, 'lease test cleanup');
  await worker?.stop();
  await closeClient?.();
  if (own) rmSync(own.dir, { recursive: true, force: true });
});

test('a scheduled weekly backup and a CLI backup a second later run one after the other, both whole', async () => {
  const weekly = await osb('schedules', 'trigger', 'weekly', '--cloud', cloud);
  started.push(weekly.workflowId);
  // the CLI backup starts once the scheduled one holds the lease (its stream is then under way)
  const lease = client.workflow.getHandle(`lease:backup-db:${cloud}`);
  for (let i = 0; i < 100; i++) {
    const held = await lease.describe().then(
      (d) => d.status.name === 'RUNNING',
      () => false,
    );
    if (held) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const manual = await osb('backup', 'db', '--full', '--cloud', cloud, '--wait');
  started.push(manual.workflowId);
  await client.workflow.getHandle(weekly.workflowId).result();

  // two full backups, one after the other: the later one started streaming after the first was published
  const base = join(own.repo, `clouds/${cloud}/database`);
  const manifests = readdirSync(base)
    .map((d) => JSON.parse(readFileSync(join(base, d, 'manifest.json'), 'utf8')) as ArtifactManifest)
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  expect(manifests).toHaveLength(2);
  const [first, second] = manifests as [ArtifactManifest, ArtifactManifest];
  expect(Date.parse(second.startedAt)).toBeGreaterThanOrEqual(Date.parse(first.completedAt));
  // neither stream was cut: every stored byte is what its manifest recorded
  for (const m of manifests) {
    const file = readFileSync(join(base, m.id, m.artifact.file));
    expect(createHash('sha256').update(file).digest('hex')).toBe(m.artifact.sha256);
  }
  // the one that came second says it waited for the lease
  const progress = await Promise.all(
    manifests.map((m) =>
      client.workflow
        .getHandle(m.workflowId)
        .query<{ steps: { name: string; detail?: string }[] }>('progress')
        .then((p) => p.steps.find((s) => s.name === 'wait for other backups')?.detail),
    ),
  );
  expect(progress[0]).toBe('none running');
  expect(progress[1]).toMatch(/^waited \d+ s$/);
}, 180_000);
