// osbackup on a Temporal cluster as a site runs one (test/lab/temporal-cluster.sh): the server
// built from its Go module, PostgreSQL for history and visibility, the frontend on mutual TLS.
// One worker with the client certificate serves the whole file: a full backup, a restore to ctl2
// with verification, a schedule's run and a visibility query all go through the cluster; a
// certificate from another CA and no certificate at all are refused at once, naming the fix.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import type { Client } from '@temporalio/client';
import type { ArtifactManifest } from '../../core/manifest/manifest.js';
import {
  cleanUpTemporal,
  cli,
  clusterConfigPath,
  configWithOwnRepo,
  deriveConfig,
  liveFacts,
  startWorker,
  temporalClient,
  type WorkerProcess,
  LAB_TABLES,
} from '../helpers/lab.js';

const TABLES = LAB_TABLES;
const cluster = clusterConfigPath();
const certs = join(dirname(cluster), 'certs');
const SCHEDULE = 'osbackup-lab-daily';
// only the daily entry: the others would be created on the cluster for nothing
const OFF = { enabled: false };
const { repo, configFile } = configWithOwnRepo(
  'cluster',
  (c) => {
    c.clouds.lab.schedules = {
      timeZone: 'UTC',
      entries: { controlPlane: OFF, weekly: OFF, monthly: OFF, rotate: OFF, verify: OFF },
    };
  },
  cluster,
);
const temporalOf = (file: string) =>
  (parse(readFileSync(file, 'utf8')) as { temporal: { address: string; taskQueue: string } }).temporal;

let worker: WorkerProcess;
let client: Client;
let close: () => Promise<void>;
const ran: { full?: string; fullBackupId?: string; daily?: string; dailyBackup?: string } = {};

async function osb(...args: string[]) {
  const r = await cli(configFile, ['--json', ...args]);
  if (r.exitCode !== 0) throw new Error(`osbackup ${args.join(' ')} exited ${r.exitCode}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, any>;
}

beforeAll(async () => {
  worker = await startWorker(configFile);
  ({ client, close } = await temporalClient(configFile));
});

afterAll(async () => {
  await cleanUpTemporal(client, [SCHEDULE], [], 'cluster test cleanup');
  await close?.();
  expect(await worker?.stop('SIGTERM')).toBe(0);
});

test('the CLI reaches the cluster with its client certificate: the real server on PostgreSQL, the namespace set up', async () => {
  const info = await client.connection.workflowService.getClusterInfo({});
  expect(info.serverVersion).toBe('1.32.2');
  expect(info.persistenceStore).toBe('postgres12');
  expect(info.visibilityStore).toBe('postgres12');
  const r = await cli(configFile, ['temporal', 'setup']);
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  expect(r.stdout).toMatch(/nothing to change/);
});

test('a full backup of ctl1, then a restore to ctl2 with verification, through the cluster: ctl2 holds ctl1 rows', async () => {
  const b = await osb('backup', 'db', '--full', '--wait');
  expect(b.backupId).toMatch(/^db-full-\d{8}T\d{6}Z$/);
  ran.full = b.workflowId as string;
  ran.fullBackupId = b.backupId as string;
  const manifest = JSON.parse(readFileSync(join(repo, b.path as string, 'manifest.json'), 'utf8')) as ArtifactManifest;
  expect(manifest.kind).toBe('full');

  const r = await osb('restore', 'db', '--to', 'ctl2', '--verify');
  expect(r.backupId).toBe(b.backupId);
  expect(r.verification).toBe('VERIFIED');
  expect((r.tables as { table: string }[]).map((t) => t.table)).toEqual(TABLES);
  // read directly, not through osbackup: nothing wrote to ctl1 since the backup
  expect(await liveFacts('ctl2', TABLES)).toEqual(await liveFacts('ctl1', TABLES));
});

test("a schedule made by `schedules apply` fires on trigger (the server's system worker runs it) and its run completes", async () => {
  const applied = await osb('schedules', 'apply', '--cloud', 'lab');
  expect(JSON.stringify(applied)).toContain(SCHEDULE);
  const t = await osb('schedules', 'trigger', 'daily', '--cloud', 'lab');
  expect(t.scheduleId).toBe(SCHEDULE);
  expect(t.workflowType).toBe('tierWorkflow');
  ran.daily = t.workflowId as string;
  const result = (await client.workflow.getHandle(t.workflowId as string).result()) as {
    tier: string;
    database: { backupId: string; kind: string; parentId: string; path: string };
  };
  expect(result.tier).toBe('daily');
  // the daily tier: an incremental on the full taken above, published in the repository
  expect(result.database).toMatchObject({ kind: 'incremental', parentId: ran.fullBackupId });
  const manifest = JSON.parse(
    readFileSync(join(repo, result.database.path, 'manifest.json'), 'utf8'),
  ) as ArtifactManifest;
  expect(manifest.kind).toBe('incremental');
  ran.dailyBackup = `${t.workflowId as string}-db`;
});

test('runs are found by search attribute in the PostgreSQL visibility store', async () => {
  const list = async (query: string) => {
    const ids: string[] = [];
    for await (const w of client.workflow.list({ query })) ids.push(w.workflowId);
    return ids.sort();
  };
  const tq = temporalOf(configFile).taskQueue;
  // visibility is written after the run closes, asynchronously
  const expected = [ran.full!, ran.dailyBackup!].sort();
  let database: string[] = [];
  for (let i = 0; i < 50 && database.join() !== expected.join(); i++) {
    database = await list(
      `Cloud = 'lab' AND Component = 'database' AND TaskQueue = '${tq}' AND WorkflowType = 'backupDatabaseWorkflow'`,
    );
    if (database.join() !== expected.join()) await new Promise((r) => setTimeout(r, 200));
  }
  expect(database).toEqual(expected);
  expect(await list(`Cloud = 'lab' AND Tier = 'daily' AND TaskQueue = '${tq}'`)).toEqual(
    [ran.daily!, ran.dailyBackup!].sort(),
  );
});

/** A config on the cluster with other TLS settings; the test's task queue and repository stay. */
const tlsConfig = (name: string, tls: Record<string, string>) =>
  deriveConfig(
    name,
    (c) => {
      c.temporal.tls = tls;
    },
    configFile,
  );

test('a client certificate from another CA: refused at once, one line naming the certificate and the fix', async () => {
  const cfg = tlsConfig('cluster-wrong-cert', {
    serverRootCaFile: join(certs, 'ca.pem'),
    clientCertFile: join(certs, 'other-client.pem'),
    clientKeyFile: join(certs, 'other-client.key'),
  });
  const t0 = Date.now();
  const r = await cli(cfg, ['temporal', 'setup']);
  // at once: not the SDK retrying until a timeout
  expect(Date.now() - t0).toBeLessThan(15_000);
  expect(r.exitCode).toBe(3);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toContain(`cannot connect to Temporal at ${temporalOf(cfg).address}`);
  expect(r.stderr).toContain(
    `Likely cause: the server refused the client certificate ${join(certs, 'other-client.pem')}. Fix: use a certificate signed by the CA the server trusts`,
  );
  await expect(startWorker(cfg)).rejects.toThrow(/the server refused the client certificate/);
});

test('no client certificate: refused at once, one line saying mutual TLS needs one and which keys to set', async () => {
  const cfg = tlsConfig('cluster-no-cert', { serverRootCaFile: join(certs, 'ca.pem') });
  const t0 = Date.now();
  const r = await cli(cfg, ['temporal', 'setup']);
  expect(Date.now() - t0).toBeLessThan(15_000);
  expect(r.exitCode).toBe(3);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toContain('no client certificate');
  expect(r.stderr).toContain(
    'Likely cause: the server asks for a client certificate (mutual TLS) and this config has none. Fix: set temporal.tls.clientCertFile and clientKeyFile',
  );
  await expect(startWorker(cfg)).rejects.toThrow(/the server asks for a client certificate \(mutual TLS\)/);
});
