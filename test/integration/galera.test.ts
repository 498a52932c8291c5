// Galera-aware backups on the lab's three-node cluster (test/lab/galera.sh): the donor is a
// Synced node that is not the writer, desynced while it streams (writes elsewhere keep
// completing), and back in sync afterwards — after success, after a cancelled backup, after the
// worker is SIGKILLed mid-stream; a donor killed mid-stream hands over to another node and the
// artifact still restores. The donors' streams are throttled (mariabackup's own --throttle, in
// a test option file that includes the node's) so "mid-stream" lasts long enough to act in.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { ArtifactManifest } from '../../core/manifest/manifest.js';
import type { BackupDatabaseResult } from '../../workflows/backup-database.js';
import { cli, configWithOwnRepo, labDir, startWorker, temporalClient, type WorkerProcess } from '../helpers/lab.js';
import {
  galeraCloud,
  GALERA_NODES,
  gsql,
  nodePid,
  startWriteLoad,
  waitClusterSynced,
  wsrep,
} from '../helpers/galera.js';

const run = `${process.pid}-${Date.now() % 100000}`;
const scratch = mkdtempSync(join(tmpdir(), 'osb-galera-'));
const THROTTLE = Number(process.env.GALERA_TEST_THROTTLE ?? 60);
const { repo, configFile } = configWithOwnRepo('galera', (c) => {
  const cloud = galeraCloud();
  // writes go to gal3 (the container node), so the donors are gal1, then gal2
  cloud.database.galera = { ...cloud.database.galera, writer: 'gal3', drainTimeoutSeconds: 30 };
  // the donor's live facts are recorded (database.facts: live): the restored copy is compared with them
  cloud.database.facts = 'live';
  for (const n of ['gal1', 'gal2']) {
    const file = join(scratch, `${n}.cnf`);
    writeFileSync(file, `!include ${cloud.hosts[n].mariadb.defaultsFile}\n[mariabackup]\nthrottle=${THROTTLE}\n`);
    cloud.hosts[n].mariadb.defaultsFile = file;
  }
  c.clouds = { galera: cloud };
  c.defaultCloud = 'galera';
});
let worker: WorkerProcess;
let temporal: Awaited<ReturnType<typeof temporalClient>>;
let taskQueue: string;
/** The donor of the newest backup the tests took (status must name it). */
let lastDonor = '';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  await waitClusterSynced();
  // ~60 MB of incompressible rows: the throttled stream then runs for several seconds
  await gsql(
    'gal3',
    'CREATE DATABASE IF NOT EXISTS osb_gtest; CREATE TABLE IF NOT EXISTS osb_gtest.filler (id INT PRIMARY KEY, b VARBINARY(1024)) ENGINE=InnoDB',
  );
  const have = Number(await gsql('gal3', 'SELECT COUNT(*) FROM osb_gtest.filler'));
  if (have !== 60000) await gsql('gal3', 'TRUNCATE osb_gtest.filler');
  for (let i = 0; have !== 60000 && i < 6; i++)
    await gsql(
      'gal3',
      `USE osb_gtest; INSERT INTO filler SELECT seq, RANDOM_BYTES(1000) FROM seq_${i * 10000 + 1}_to_${(i + 1) * 10000}`,
    );
  await waitClusterSynced();
  worker = await startWorker(configFile);
  temporal = await temporalClient(configFile);
  const { loadConfig } = await import('../../config/load.js');
  taskQueue = loadConfig(configFile).temporal.taskQueue;
}, 300_000);

afterAll(async () => {
  await worker?.stop();
  await temporal?.close();
  // a killed donor is brought back and rejoins (SST), so the cluster is left as found
  await restartGal1().catch((e: Error) => console.error(e.message));
  await waitClusterSynced(180_000).catch((e: Error) => console.error(e.message));
  if (!process.env.GALERA_TEST_KEEP) await gsql('gal3', 'DROP DATABASE IF EXISTS osb_gtest').catch(() => undefined);
  rmSync(scratch, { recursive: true, force: true });
}, 300_000);

function start(name: string) {
  return temporal.client.workflow.start('backupDatabaseWorkflow', {
    taskQueue,
    workflowId: `test-galera-${name}-${run}`,
    args: [{ cloud: 'galera', kind: 'full' }],
  });
}

type Handle = Awaited<ReturnType<typeof start>>;

/** Waits until the stream activity is running on `donor` and has sent bytes. */
async function midStream(h: Handle, donor: string, timeoutMs = 60_000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const p = await h.query<{ phase: string }>('progress').catch(() => ({ phase: '' }));
    const d = await h.describe();
    const streaming = (d.raw.pendingActivities ?? []).some(
      (a) => a.activityType?.name === 'mariadbStreamBackup' && Number(a.state) === 2 && a.heartbeatDetails,
    );
    if (p.phase === `stream backup from ${donor}` && streaming) return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`never saw the stream from ${donor} running (phase ${p.phase})`);
    await sleep(100);
  }
}

async function desyncEverywhereOff(nodes: readonly string[] = GALERA_NODES): Promise<void> {
  for (const n of nodes) expect((await wsrep(n as 'gal1')).desync).toBe(false);
  // and no marker left on their hosts: the next backup would otherwise have work to do
  expect(readdirSync('/var/tmp').filter((f) => nodes.some((n) => f === `osbackup-galera-desync-${n}`))).toEqual([]);
}

function manifestOf(r: BackupDatabaseResult): ArtifactManifest {
  lastDonor = r.donor ?? '';
  return JSON.parse(readFileSync(join(repo, r.path, 'manifest.json'), 'utf8')) as ArtifactManifest;
}

test('a backup under a steady write load reads from a non-writer, records the cluster position, and never stalls the writes', async () => {
  const load = startWriteLoad('gal3', 20);
  await sleep(2000);
  const t0 = Date.now();
  const h = await start('load');
  // while it streams, the donor is desynced and the other nodes are not
  await midStream(h, 'gal1');
  expect((await wsrep('gal1')).desync).toBe(true);
  expect((await wsrep('gal2')).desync).toBe(false);
  const r = (await h.result()) as BackupDatabaseResult;
  const seconds = (Date.now() - t0) / 1000;
  await sleep(2000);
  const w = await load.stop();
  console.log(
    `galera backup under load: ${seconds.toFixed(1)} s, ${w.writes} writes, longest wait ${w.maxStallMs.toFixed(0)} ms, ${w.failures} failed`,
  );
  expect(w.failures).toBe(0);
  expect(w.writes).toBeGreaterThan(seconds * 2);
  expect(w.maxStallMs).toBeLessThan(20_000);

  expect(r.donor).toBe('gal1');
  const m = manifestOf(r);
  const now = await wsrep('gal1');
  expect(m.source.host).toBe('gal1');
  expect(m.galera).toMatchObject({
    donor: 'gal1',
    writer: 'gal3',
    writerFrom: 'config',
    clusterUuid: now.uuid,
    failedDonors: [],
  });
  expect(m.galera!.seqno).toBeGreaterThan(0);
  expect(m.galera!.seqno).toBeLessThanOrEqual(now.seqno);
  expect(m.galera!.nodes.map((n) => n.state)).toEqual(['Synced', 'Synced', 'Synced']);
  await desyncEverywhereOff();
}, 180_000);

test('a backup cancelled mid-stream leaves the donor in sync and nothing staged', async () => {
  const h = await start('cancel');
  await midStream(h, 'gal1');
  expect((await wsrep('gal1')).desync).toBe(true);
  await h.cancel();
  await expect(h.result()).rejects.toThrow();
  await desyncEverywhereOff();
  expect(readdirSync(join(repo, '.staging'))).toEqual([]);
}, 180_000);

test('a worker SIGKILLed mid-stream: the next worker finishes the backup and the donor is back in sync', async () => {
  const h = await start('sigkill');
  await midStream(h, 'gal1');
  worker.proc.kill('SIGKILL');
  await worker.stop();
  expect((await wsrep('gal1')).desync).toBe(true); // nobody left to turn it off…
  worker = await startWorker(configFile);
  const r = (await h.result()) as BackupDatabaseResult; // …until the workflow resumes on the new worker
  expect(r.donor).toBe('gal1');
  await desyncEverywhereOff();
  expect(manifestOf(r).galera!.failedDonors).toEqual([]);
}, 240_000);

test('the donor killed mid-stream: the backup finishes on another node and the artifact restores', async () => {
  const h = await start('donor-killed');
  await midStream(h, 'gal1');
  process.kill(nodePid('gal1'), 'SIGKILL');
  const r = (await h.result()) as BackupDatabaseResult;
  expect(r.donor).toBe('gal2');
  expect(r.failedDonors).toEqual(['gal1']);
  await desyncEverywhereOff(['gal2', 'gal3']);
  const m = manifestOf(r);
  expect(m.galera).toMatchObject({ donor: 'gal2', failedDonors: ['gal1'] });

  // whole: stock gpg + zstd open it, mbstream extracts it, mariabackup prepares it, and a
  // server started on it holds exactly the recorded rows
  const dir = join(scratch, 'restore');
  mkdirSync(dir);
  const gnupg = join(scratch, 'gnupg');
  mkdirSync(gnupg, { mode: 0o700 });
  await execa(
    'bash',
    [
      '-c',
      `set -o pipefail; gpg --batch --quiet --pinentry-mode loopback --passphrase-file "$1" --decrypt "$2" | zstd -dq | mbstream -x -C "$3"`,
      'open',
      join(labDir(), 'secrets/backup-passphrase'),
      join(repo, r.path, m.artifact.file),
      dir,
    ],
    { env: { GNUPGHOME: gnupg } },
  );
  expect(readFileSync(join(dir, 'xtrabackup_galera_info'), 'utf8').trim().split(/\s/)[0]).toBe(
    `${m.galera!.clusterUuid}:${m.galera!.seqno}`,
  );
  await execa('mariabackup', ['--prepare', `--target-dir=${dir}`]);
  const sock = join(scratch, 'r.sock');
  const server = execa(
    'mariadbd',
    [
      '--no-defaults',
      `--datadir=${dir}`,
      `--socket=${sock}`,
      '--skip-networking',
      '--user=root',
      `--pid-file=${join(scratch, 'r.pid')}`,
      '--skip-log-bin',
    ],
    { reject: false },
  );
  try {
    for (let i = 0; i < 100; i++) {
      if ((await execa('mariadb-admin', [`--socket=${sock}`, 'ping'], { reject: false })).exitCode === 0) break;
      await sleep(200);
    }
    const stable = m.tables.filter((t) => t.stable);
    expect(stable.length).toBeGreaterThanOrEqual(6);
    const sqlText = stable
      .map((t) => `SELECT '${t.table}', (SELECT COUNT(*) FROM ${t.table}); CHECKSUM TABLE ${t.table};`)
      .join('\n');
    const out = (await execa('mariadb', [`--socket=${sock}`, '-N', '-B', '-e', sqlText])).stdout.split('\n');
    for (let i = 0; i < stable.length; i++) {
      const [table, rows] = out[2 * i]!.split('\t');
      const [, sum] = out[2 * i + 1]!.split('\t');
      expect({ table, rows: Number(rows), checksum: sum }).toEqual({
        table: stable[i]!.table,
        rows: stable[i]!.rows,
        checksum: stable[i]!.checksum,
      });
    }
  } finally {
    await execa('mariadb-admin', [`--socket=${sock}`, 'shutdown'], { reject: false });
    await server;
  }
}, 300_000);

test('the dead donor, back in the cluster, has its marker cleared by the next backup', async () => {
  // the killed donor kept its marker (it could not be resynced); it rejoins by SST
  expect(readdirSync('/var/tmp')).toContain('osbackup-galera-desync-gal1');
  await restartGal1();
  await waitClusterSynced(180_000);
  const r = (await (await start('after')).result()) as BackupDatabaseResult;
  expect(r.donor).toBe('gal1');
  lastDonor = r.donor!;
  await desyncEverywhereOff();
}, 300_000);

test("osbackup status shows every node Synced with its seqno, and the last backup's donor", async () => {
  if (!lastDonor) lastDonor = ((await (await start('status')).result()) as BackupDatabaseResult).donor!;
  const r = await cli(configFile, ['--json', 'status', '--cloud', 'galera']);
  expect(r.exitCode).toBe(0);
  const s = JSON.parse(r.stdout) as {
    nodes: { host: string; state: string; seqno: number; desync: boolean }[];
    lastBackup: { donor: string; seqno: number };
  };
  const live = await wsrep('gal2');
  expect(s.nodes.map((n) => [n.host, n.state, n.desync])).toEqual([
    ['gal1', 'Synced', false],
    ['gal2', 'Synced', false],
    ['gal3', 'Synced', false],
  ]);
  for (const n of s.nodes) expect(n.seqno).toBeLessThanOrEqual(live.seqno);
  expect(s.lastBackup.donor).toBe(lastDonor);
  const text = await cli(configFile, ['status', '--cloud', 'galera']);
  expect(text.stdout).toMatch(new RegExp(`gal3 +Synced +3 `));
  expect(text.stdout).toMatch(new RegExp(`last backup .* read from ${lastDonor} at seqno ${s.lastBackup.seqno}`));
}, 120_000);

async function restartGal1() {
  const r = await execa(
    'ssh',
    [
      '-q',
      '-i',
      join(labDir(), 'keys/worker_ed25519'),
      '-o',
      'BatchMode=yes',
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      `root@${galeraCloud().hosts.gal1.address}`,
      `DB_START_TRIES=900 ${process.cwd()}/test/lab/db.sh start ${join(labDir(), 'gal1')}`,
    ],
    { reject: false },
  );
  if (r.exitCode !== 0) throw new Error(`gal1 did not come back: ${r.stderr}`);
}
