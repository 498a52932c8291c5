// A worker stopped with SIGTERM while a backup streams: it stops taking work, waits its grace
// time, then cancels the stream (the staging folder is discarded, nothing is published) and
// exits 0. The run goes on when a worker polls again, and the backup it publishes is whole.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ArtifactManifest } from '../../core/manifest/manifest.js';
import {
  activityAttempts,
  cleanUpTemporal,
  configWithOwnRepo,
  startWorker,
  temporalClient,
  type WorkerProcess,
} from '../helpers/lab.js';

const GRACE = 4;
const WORKFLOW_ID = `drain-${process.pid}`;
let own: ReturnType<typeof configWithOwnRepo>;
let tc: Awaited<ReturnType<typeof temporalClient>>;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  own = configWithOwnRepo('drain', (c) => {
    // mariabackup throttled: the stream is still running when the worker is told to stop
    const slow = join(mkdtempSync(join(tmpdir(), 'osb-drain-')), 'ctl1.cnf');
    writeFileSync(slow, `!include ${c.clouds.lab.hosts.ctl1.mariadb.defaultsFile}\n[mariabackup]\nthrottle=60\n`);
    c.clouds.lab.hosts.ctl1.mariadb.defaultsFile = slow;
    c.worker = { shutdownGraceSeconds: GRACE };
  });
  tc = await temporalClient(own.configFile);
});

afterAll(async () => {
  for (const w of workers) await w.stop('SIGKILL').catch(() => undefined);
  // a run left behind would hold the cloud's backup lease for the suites after this one
  await cleanUpTemporal(tc?.client, [], [WORKFLOW_ID], 'drain test cleanup');
  await tc?.close();
});

const sha256 = (file: string) =>
  new Promise<string>((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (c) => h.update(c))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });

test('SIGTERM during a stream: grace, then the stream is cancelled with nothing published; a new worker finishes the run', async () => {
  const { client } = tc;
  const { loadConfig } = await import('../../config/load.js');
  const taskQueue = loadConfig(own.configFile).temporal.taskQueue;
  const first = await startWorker(own.configFile, { forceKillAfterMs: false });
  workers.push(first);
  const handle = await client.workflow.start('backupDatabaseWorkflow', {
    taskQueue,
    workflowId: WORKFLOW_ID,
    args: [{ cloud: 'lab', kind: 'full', tier: 'manual' }],
  });
  // the stream is under way: bytes have reached the staging folder
  const staging = join(own.repo, '.staging');
  for (let i = 0; ; i++) {
    const pending = (await handle.describe()).raw.pendingActivities ?? [];
    const streaming = pending.some((a) => a.activityType?.name === 'mariadbStreamBackup');
    const staged = existsSync(staging) && readdirSync(staging).some((d) => readdirSync(join(staging, d)).length > 0);
    if (streaming && staged) break;
    if (i > 300) throw new Error('the stream did not start within 60 s');
    await new Promise((r) => setTimeout(r, 200));
  }

  const t0 = Date.now();
  const code = await first.stop('SIGTERM');
  const seconds = (Date.now() - t0) / 1000;
  if (code !== 0) throw new Error(`the worker exited with ${code}, not 0:\n${first.output().slice(-4000)}`);
  // it waited its grace for the stream before cancelling it (and not much longer)
  expect(seconds).toBeGreaterThanOrEqual(GRACE - 0.5);
  expect(seconds).toBeLessThan(GRACE + 60);
  expect(first.output()).toMatch(/SIGTERM: draining/);
  // nothing half: no staging left, no manifest published
  expect(existsSync(staging) ? readdirSync(staging) : []).toEqual([]);
  const dbDir = join(own.repo, 'clouds/lab/database');
  expect(existsSync(dbDir) ? readdirSync(dbDir) : []).toEqual([]);
  expect((await handle.describe()).status.name).toBe('RUNNING');

  const second = await startWorker(own.configFile);
  workers.push(second);
  const r = (await handle.result()) as { backupId: string; path: string };
  // the backup the resumed run published is whole: its artifact hashes to its manifest
  const dir = join(dbDir, r.backupId);
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ArtifactManifest;
  expect(await sha256(join(dir, m.artifact.file))).toBe(m.artifact.sha256);
  // the stream ran again (attempt 2) on the second worker; nothing else was retried
  const attempts = await activityAttempts(client, handle.workflowId);
  expect(attempts.find((a) => a.activity === 'mariadbStreamBackup')?.attempt).toBe(2);
  expect(attempts.filter((a) => a.activity !== 'mariadbStreamBackup' && a.attempt !== 1)).toEqual([]);
  expect(await second.stop('SIGTERM')).toBe(0);
}, 300_000);
