// Galera cluster restore on the lab's three-node cluster (test/lab/galera.sh): a backup of the
// cluster, writes after it, then `osbackup restore cluster` → every node stopped, the chain
// restored to gal1 and a new cluster bootstrapped there, gal2 and gal3 (the container node)
// emptied and rejoined by full SST → three Synced nodes holding exactly the backup's data,
// checked here on every node independently of osbackup's own verification. A plan that is
// rejected touches nothing. The cluster is left up and synced (others share it).
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import type { BackupDatabaseResult } from '../../workflows/backup-database.js';
import type { ClusterRestoreSummary, GaleraClusterRestoreResult } from '../../workflows/galera-restore.js';
import type { ArtifactManifest } from '../../core/manifest/manifest.js';
import { cli, configWithOwnRepo, startWorker, temporalClient, type WorkerProcess } from '../helpers/lab.js';
import { galeraCloud, GALERA_NODES, gsql, waitClusterSynced, wsrep } from '../helpers/galera.js';

const run = `${process.pid}-${Date.now() % 100000}`;
const MARKS = 'osb_grtest.marks';
const { repo, configFile } = configWithOwnRepo('galera-restore', (c) => {
  const cloud = galeraCloud();
  // a table of the test's own among the recorded ones: rows written after the backup must vanish
  cloud.database.verifyTables = [...cloud.database.verifyTables, MARKS];
  // the donor's live counts and checksums are recorded (database.facts: live), so the restored
  // nodes are compared with the data the backup was taken from
  cloud.database.facts = 'live';
  // a lab brought up before bootstrapCommand existed: the same script with --wsrep-new-cluster
  for (const n of ['gal1', 'gal2'])
    cloud.hosts[n].mariadb.bootstrapCommand ??= [...cloud.hosts[n].mariadb.startCommand, '--wsrep-new-cluster'];
  c.clouds = { galera: cloud };
  c.defaultCloud = 'galera';
});
let worker: WorkerProcess;
let temporal: Awaited<ReturnType<typeof temporalClient>>;
let taskQueue: string;
let backup: { id: string; manifest: ArtifactManifest };
const asides: string[] = [];

/** Row count and CHECKSUM TABLE of each table on one node, read as the lab's admin (not through osbackup). */
async function factsOn(
  node: (typeof GALERA_NODES)[number],
  tables: string[],
): Promise<{ table: string; rows: number; checksum: string }[]> {
  const lines = (
    await gsql(node, tables.map((t) => `SELECT '${t}', (SELECT COUNT(*) FROM ${t}); CHECKSUM TABLE ${t};`).join('\n'))
  ).split('\n');
  return tables.map((t, i) => ({
    table: t,
    rows: Number(lines[2 * i]!.split('\t')[1]),
    checksum: lines[2 * i + 1]!.split('\t')[1]!,
  }));
}

beforeAll(async () => {
  await waitClusterSynced();
  await gsql(
    'gal2',
    `CREATE DATABASE IF NOT EXISTS osb_grtest; DROP TABLE IF EXISTS ${MARKS}; CREATE TABLE ${MARKS} (id INT PRIMARY KEY, note VARCHAR(64)) ENGINE=InnoDB; USE osb_grtest; INSERT INTO ${MARKS} SELECT seq, CONCAT('before-', seq) FROM seq_1_to_100`,
  );
  worker = await startWorker(configFile);
  temporal = await temporalClient(configFile);
  const { loadConfig } = await import('../../config/load.js');
  taskQueue = loadConfig(configFile).temporal.taskQueue;
  const h = await temporal.client.workflow.start('backupDatabaseWorkflow', {
    taskQueue,
    workflowId: `test-galera-restore-backup-${run}`,
    args: [{ cloud: 'galera', kind: 'full' }],
  });
  const r = (await h.result()) as BackupDatabaseResult;
  backup = {
    id: r.backupId,
    manifest: JSON.parse(readFileSync(join(repo, r.path, 'manifest.json'), 'utf8')) as ArtifactManifest,
  };
}, 240_000);

afterAll(async () => {
  await worker?.stop();
  await temporal?.close();
  // whatever happened above, the shared cluster must be whole again
  await waitClusterSynced(180_000).catch((e: Error) =>
    console.error(`GALERA LAB NOT SYNCED after galera-restore.test: ${e.message}`),
  );
  await gsql('gal1', 'DROP DATABASE IF EXISTS osb_grtest').catch(() => undefined);
  for (const d of asides) rmSync(d, { recursive: true, force: true });
}, 240_000);

test('a rejected cluster restore shows the plan and touches no node', async () => {
  const before = await Promise.all(GALERA_NODES.map((n) => wsrep(n)));
  // stdin is not a TTY: the CLI prints the plan and waits for `restore approve|reject`
  const cliRun = execa(
    'node',
    ['dist/client/cli.js', '--config', configFile, 'restore', 'cluster', '--id', backup.id],
    { reject: false, stdin: 'ignore' },
  );
  let err = '';
  cliRun.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  for (const t0 = Date.now(); !/waiting for a decision/.test(err) && Date.now() - t0 < 30_000; )
    await new Promise((r) => setTimeout(r, 200));
  const workflowId = /started (\S+)/.exec(err)?.[1] ?? '';
  expect(workflowId).toMatch(/^restore-cluster:galera:/);
  const summary = await temporal.client.workflow.getHandle(workflowId).query<ClusterRestoreSummary>('summary');
  expect(summary).toMatchObject({
    bootstrap: 'gal1',
    joiners: ['gal2', 'gal3'],
    backupId: backup.id,
    position: { clusterUuid: backup.manifest.galera!.clusterUuid, seqno: backup.manifest.galera!.seqno },
  });
  expect((await cli(configFile, ['restore', 'reject', workflowId, '--reason', 'test declines'])).exitCode).toBe(0);
  const r = await cliRun;
  expect(r.exitCode).toBe(0);
  expect(r.stderr).toMatch(/bootstrap +gal1: the chain restored/);
  expect(r.stderr).toMatch(/rejoin +gal2, gal3: datadir emptied/);
  expect(r.stdout).toContain('rejected (test declines): no node was touched');
  const after = await Promise.all(GALERA_NODES.map((n) => wsrep(n)));
  expect(after.map((w) => [w.size, w.state, w.uuid])).toEqual(before.map((w) => [3, 'Synced', w.uuid]));
}, 120_000);

test('a node that cannot bootstrap is refused before anything runs', async () => {
  const r = await cli(configFile, ['restore', 'cluster', '--bootstrap', 'gal9', '--yes']);
  expect(r.exitCode).not.toBe(0);
  expect(r.stderr).toMatch(/--bootstrap gal9 is not a node of galera's cluster \(gal1, gal2, gal3\)/);
  // gal3 (the container node) has no bootstrap command in the lab: the workflow's plan says so
  const g3 = await cli(configFile, ['restore', 'cluster', '--bootstrap', 'gal3', '--yes']);
  expect(g3.exitCode).not.toBe(0);
  expect(g3.stderr).toMatch(
    /gal3 has no bootstrap command \(clouds\.galera\.hosts\.gal3\.mariadb\.bootstrapCommand\).*Fix: set it .*or bootstrap from gal1 or gal2/,
  );
  expect((await wsrep('gal3')).state).toBe('Synced');
}, 60_000);

test("backup → writes after it → cluster restore: three Synced nodes, each with exactly the backup's data", async () => {
  const tables = backup.manifest.tables.filter((t) => t.stable);
  expect(tables.map((t) => t.table)).toContain(MARKS);
  expect(tables.length).toBeGreaterThanOrEqual(7);
  // after the backup: rows added, changed and removed on different nodes
  await gsql('gal3', `USE osb_grtest; INSERT INTO ${MARKS} SELECT seq, 'after' FROM seq_101_to_150`);
  await gsql(
    'gal2',
    `UPDATE ${MARKS} SET note = 'changed' WHERE id <= 10; DELETE FROM ${MARKS} WHERE id > 90 AND id <= 100`,
  );
  expect((await factsOn('gal1', [MARKS]))[0]!.rows).toBe(140);

  const t0 = Date.now();
  const r = await cli(configFile, ['--json', 'restore', 'cluster', '--id', backup.id, '--yes']);
  const seconds = (Date.now() - t0) / 1000;
  if (r.exitCode !== 0) console.error(r.stderr);
  expect(r.exitCode).toBe(0);
  const res = JSON.parse(r.stdout) as GaleraClusterRestoreResult;
  if (res.restore?.asideDir) asides.push(res.restore.asideDir);
  console.log(
    `galera cluster restore: ${seconds.toFixed(1)} s (workflow ${res.totalSeconds.toFixed(1)} s; restore to gal1 ${res.restore?.timings.totalSeconds.toFixed(1)} s; joins ${res.nodes.map((n) => `${n.host} ${n.joinSeconds?.toFixed(1) ?? '-'} s`).join(', ')})`,
  );
  expect(res.outcome).toBe('restored');
  expect(res.restore).toMatchObject({ targetHost: 'gal1', verification: 'VERIFIED', chain: [backup.id] });
  expect(res.nodes.map((n) => [n.host, n.role, n.clusterSize, n.localState, n.clusterStatus])).toEqual([
    ['gal1', 'bootstrap', 3, 4, 'Primary'],
    ['gal2', 'joiner', 3, 4, 'Primary'],
    ['gal3', 'joiner', 3, 4, 'Primary'],
  ]);
  for (const n of res.nodes)
    expect(n.tables.filter((t) => t.outcome !== 'unstable').every((t) => t.outcome === 'equal')).toBe(true);

  // independently: every node Synced in one cluster that continues the backup's history…
  await waitClusterSynced(60_000);
  const w = await Promise.all(GALERA_NODES.map((n) => wsrep(n)));
  for (const x of w) expect(x.uuid).toBe(backup.manifest.galera!.clusterUuid);
  // …and each holds the recorded counts and checksums, the rows written after the backup gone
  const recorded = tables.map((t) => ({ table: t.table, rows: t.rows, checksum: t.checksum }));
  for (const n of GALERA_NODES)
    expect(
      await factsOn(
        n,
        tables.map((t) => t.table),
      ),
    ).toEqual(recorded);
  for (const n of GALERA_NODES)
    expect(await gsql(n, `SELECT COUNT(*), MIN(id), MAX(id), SUM(note LIKE 'before-%') FROM ${MARKS}`)).toBe(
      '100\t1\t100\t100',
    );
}, 300_000);
