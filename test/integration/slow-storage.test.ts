// Slow storage for real, as on a busy array or a network filesystem: the repository sits on a
// loop device whose reads the kernel throttles for the worker (the cgroup-v1 blkio throttle, page
// cache dropped first), and the link to the Swift host is shaped with a token bucket (tc tbf).
// Reading the ~110 MB artifact takes several heartbeat timeouts; the restore, the scrub and the
// copy must still finish with every activity at its first attempt (read from their histories).
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { ArtifactManifest } from '../../core/manifest/manifest.js';
import {
  activityAttempts,
  cli,
  configWithOwnRepo,
  labDir,
  sql,
  startWorker,
  temporalClient,
  type WorkerProcess,
} from '../helpers/lab.js';

/** Reads of the repository's device, for the worker and what it spawns: 1 MiB/s. */
const READ_BPS = 1 << 20;
/** The longest heartbeat timeout of the activities that read the artifact (workflows/options.ts). */
const HEARTBEAT_TIMEOUT_S = 30;
const NOISE_MB = 100;
const NOISE = 'osb_slow.noise';

const work = mkdtempSync(join(tmpdir(), 'osb-slow-'));
const mnt = join(work, 'mnt');
const cgroup = `/sys/fs/cgroup/blkio/osb-slow-${process.pid}`;
const swiftDir = () => join(labDir(), 'ctl1/swift');
const sh = (script: string) => execa('bash', ['-c', `set -euo pipefail\n${script}`]);
const dropCaches = () => sh('sync; echo 3 > /proc/sys/vm/drop_caches');
let loop = '';
let configFile: string;
let repo: string;
let worker: WorkerProcess;
let backupId: string;
let manifest: ArtifactManifest;

beforeAll(async () => {
  // the repository: ext4 on a loop device of its own
  await sh(`truncate -s 768M ${work}/disk.img`);
  loop = (await sh(`losetup -f --show ${work}/disk.img`)).stdout.trim();
  await sh(`mkfs.ext4 -q ${loop} && mkdir -p ${mnt} && mount ${loop} ${mnt}`);
  const majMin = (await sh(`lsblk -dno MAJ:MIN ${loop}`)).stdout.trim();
  mkdirSync(cgroup, { recursive: true });
  writeFileSync(join(cgroup, 'blkio.throttle.read_bps_device'), `${majMin} ${READ_BPS}`);
  ({ repo, configFile } = configWithOwnRepo('slow', (c) => {
    c.repository.path = join(mnt, 'repo');
    const d = swiftDir();
    c.targets = {
      swift: {
        type: 's3',
        endpoint: readFileSync(join(d, 's3-endpoint'), 'utf8').trim(),
        bucket: readFileSync(join(d, 's3-bucket'), 'utf8').trim(),
        prefix: `slow-${process.pid}-${Date.now()}/`,
        forcePathStyle: true,
        checksumMode: 'WHEN_REQUIRED',
        deleteMode: 'batch-md5',
        accessKeyId: { file: join(d, 's3-access-key') },
        secretAccessKey: { file: join(d, 's3-secret-key') },
      },
    };
  }));
  repo = join(mnt, 'repo');
  // ~100 MB that no compressor shrinks, in a schema of its own on ctl1 (not in the binlog)
  const rows = Array.from(
    { length: NOISE_MB },
    (_, i) => `INSERT INTO ${NOISE} VALUES (${i + 1}, 0x${randomBytes(1 << 20).toString('hex')});`,
  );
  await execa('mariadb', [`--defaults-file=${join(labDir(), 'ctl1', 'my.cnf')}`], {
    input: `SET SESSION sql_log_bin=0; DROP DATABASE IF EXISTS osb_slow; CREATE DATABASE osb_slow; CREATE TABLE ${NOISE} (id int PRIMARY KEY, b longblob) ENGINE=InnoDB;\n${rows.join('\n')}\n`,
  });
  worker = await startWorker(configFile);
  // the worker and every process it starts from now on read the repository at READ_BPS
  writeFileSync(join(cgroup, 'cgroup.procs'), String(worker.proc.pid));
  const r = await cli(configFile, ['--json', 'backup', 'db', '--full', '--wait']);
  if (r.exitCode !== 0) throw new Error(r.stderr);
  const b = JSON.parse(r.stdout) as { backupId: string; path: string };
  backupId = b.backupId;
  manifest = JSON.parse(readFileSync(join(repo, b.path, 'manifest.json'), 'utf8')) as ArtifactManifest;
}, 180_000);

afterAll(async () => {
  await worker?.stop();
  for (const h of ['ctl1', 'ctl2'])
    await sql(h, 'SET SESSION sql_log_bin=0; DROP DATABASE IF EXISTS osb_slow').catch(() => undefined);
  // a clean restart checkpoints the redo log: otherwise every later backup of ctl1 carries the
  // ~100 MB of random pages still in the redo since the last checkpoint
  const ctl1 = join(labDir(), 'ctl1');
  await sh(`test/lab/db.sh stop ${ctl1} && ip netns exec osb-ctl1 test/lab/db.sh start ${ctl1}`);
  await sh(`ip netns exec osb-sw tc qdisc del dev osb-ctl1-p root 2>/dev/null || true`);
  await sh(`umount ${mnt} || true; [ -z "${loop}" ] || losetup -d ${loop} || true; rmdir ${cgroup} || true`);
  rmSync(work, { recursive: true, force: true });
});

async function attemptsOf(workflowId: string): Promise<{ activity: string; attempt: number }[]> {
  const { client, close } = await temporalClient(configFile);
  try {
    return await activityAttempts(client, workflowId);
  } finally {
    await close();
  }
}

test('the artifact is larger than the throttle reads in three heartbeat timeouts', () => {
  expect(manifest.artifact.bytes).toBeGreaterThan(3 * HEARTBEAT_TIMEOUT_S * READ_BPS);
});

test('a restore from the throttled repository succeeds with every activity at attempt 1', async () => {
  await dropCaches();
  const r = await cli(configFile, ['--json', 'restore', 'db', '--to', 'ctl2', '--backup', backupId, '--verify']);
  expect(r.stderr).toBe('');
  const res = JSON.parse(r.stdout) as {
    workflowId: string;
    verification: string;
    timings: { streamSeconds: number };
  };
  expect(res.verification).toBe('VERIFIED');
  // the stream really ran at the throttled speed, for longer than three heartbeat timeouts
  expect(res.timings.streamSeconds).toBeGreaterThan(3 * HEARTBEAT_TIMEOUT_S);
  const attempts = await attemptsOf(res.workflowId);
  expect(attempts.map((a) => a.activity)).toContain('mariadbRestoreStream');
  expect(attempts.filter((a) => a.attempt !== 1)).toEqual([]);
  // the restored table is ctl1's, byte for byte
  const sum = `CHECKSUM TABLE ${NOISE}`;
  expect(await sql('ctl2', sum)).toBe(await sql('ctl1', sum));
}, 600_000);

test('a scrub of the throttled repository re-reads the artifact, CHECKED, every activity at attempt 1', async () => {
  await dropCaches();
  const t0 = Date.now();
  const r = await cli(configFile, ['--json', 'verify']);
  const seconds = (Date.now() - t0) / 1000;
  expect(r.exitCode).toBe(0);
  const res = JSON.parse(r.stdout) as { workflowId: string; ok: boolean };
  expect(res.ok).toBe(true);
  expect(seconds).toBeGreaterThan(3 * HEARTBEAT_TIMEOUT_S);
  const attempts = await attemptsOf(res.workflowId);
  expect(attempts.length).toBeGreaterThan(0);
  expect(attempts.filter((a) => a.attempt !== 1)).toEqual([]);
}, 600_000);

test('a copy to Swift over a link shaped to 8 Mbit/s finishes with every activity at attempt 1', async () => {
  await dropCaches();
  // egress of the bridge port towards ctl1: everything the worker sends to the Swift host
  await sh(`ip netns exec osb-sw tc qdisc add dev osb-ctl1-p root tbf rate 8mbit burst 64kb latency 400ms`);
  try {
    const t0 = Date.now();
    const r = await cli(configFile, ['--json', 'copy', '--to', 'swift', '--id', backupId]);
    const seconds = (Date.now() - t0) / 1000;
    expect(r.stderr).toBe('');
    const res = JSON.parse(r.stdout) as { workflowId: string; targets: { copied: string[] }[] };
    expect(res.targets[0]!.copied).toEqual([backupId]);
    expect(seconds).toBeGreaterThan(3 * HEARTBEAT_TIMEOUT_S);
    const attempts = await attemptsOf(res.workflowId);
    expect(attempts.filter((a) => a.attempt !== 1)).toEqual([]);
  } finally {
    await sh(`ip netns exec osb-sw tc qdisc del dev osb-ctl1-p root`);
  }
}, 600_000);
