// `npm run bench`: the benchmark cases on the lab, then bench/results.md. Timing targets live
// here, never in tests. `./dev bench` brings up a fresh lab for every case and runs this once per
// case (BENCH_CASES=<one>): each case sets up what it needs and never depends on another. The
// figures of every case ever measured are kept in BENCH_BASE (bench/results.json, committed) and
// results.md is rendered from all of them, each section with the date it was measured.
// Knobs: BENCH_CASES (comma list of orchestration, backup-stream, backup-2gb, restore-chain,
// pitr-rpo, galera, fanout, drill, rebuild, big, history, s3-repo, throughput; default all), BENCH_REPS (3), BENCH_SEED_REPS (2),
// BENCH_BIG_ROWS (1100000 nova.instances rows ≈ 2 GB of datadir, for backup-2gb and
// restore-chain), BENCH_BIG20_ROWS (11500000 ≈ 20 GB, for big; built once under .dev/bench),
// BENCH_BIG20_SEED (1: also time the cron + bash procedure at 20 GB), BENCH_STEPS (100),
// BENCH_RPO_SECONDS (120), BENCH_RPO_TPS (10), BENCH_VOLUMES (120; 0 leaves the fan-out out),
// BENCH_VOLUME_CONCURRENCY (8), BENCH_HISTORY_STEPS (500), BENCH_S3_EXTRA_MB (400: incompressible
// MB added for s3-repo), BENCH_THROUGHPUT_CONCURRENCY (1,10,50: runs in flight, one window each),
// BENCH_THROUGHPUT_SECONDS (20: each window), BENCH_THROUGHPUT_TIER (1: also one real tier run;
// throughput needs the lab's Temporal cluster, OSBACKUP_CLUSTER_CONFIG), BENCH_OUT (bench/results.md).
import { cpus, totalmem } from 'node:os';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { execa } from 'execa';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { loadConfig } from '../config/load.js';
import {
  clusterConfigPath,
  configWithOwnRepo,
  grantBackupUser,
  labConfigPath,
  labDir as labDirOf,
  onlyClouds,
} from '../test/helpers/lab.js';
import { backupStreamCase } from './cases/backup-stream.js';
import { orchestrationCase } from './cases/orchestration.js';
import { restoreChainCase } from './cases/restore-chain.js';
import { pitrRpoCase } from './cases/pitr-rpo.js';
import { galeraStallCase } from './cases/galera-stall.js';
import { drillCase } from './cases/dr-drill.js';
import { rebuildCase } from './cases/dr-rebuild.js';
import { galeraCloud } from '../test/helpers/galera.js';
import { renderVolumeFanout, volumeFanoutCase } from './cases/volume-fanout.js';
import { bigDatabaseCase } from './cases/big-database.js';
import { historyLimitsCase, renderHistoryLimits } from './cases/history-limits.js';
import { s3RepositoryCase } from './cases/s3-repository.js';
import { clusterDirOf, clusterThroughputCase } from './cases/cluster-throughput.js';
import { bash } from './lib/sh.js';
import { log } from './lib/stats.js';
import { renderResults, type Results } from './report.js';

const num = (v: string | undefined, d: number) => (v === undefined || v === '' ? d : Number(v));
const REPS = num(process.env.BENCH_REPS, 3);
const SEED_REPS = num(process.env.BENCH_SEED_REPS, 2);
const BIG_ROWS = num(process.env.BENCH_BIG_ROWS, 1_100_000);
const BIG20_ROWS = num(process.env.BENCH_BIG20_ROWS, 11_500_000);
const BIG20_SEED = process.env.BENCH_BIG20_SEED !== '0';
const STEPS = num(process.env.BENCH_STEPS, 100);
const RPO_SECONDS = num(process.env.BENCH_RPO_SECONDS, 120);
const RPO_TPS = num(process.env.BENCH_RPO_TPS, 10);
const OUT = resolve(process.env.BENCH_OUT ?? 'bench/results.md');
/** Volumes for the Cinder snapshot fan-out (the lab's OpenStack; 0 leaves it out). */
const VOLUMES = num(process.env.BENCH_VOLUMES, 120);
const VOLUME_CONCURRENCY = num(process.env.BENCH_VOLUME_CONCURRENCY, 8);
/** The archiver's steps per run in the history case (the workflow's default bound). */
const HISTORY_STEPS = num(process.env.BENCH_HISTORY_STEPS, 500);
const S3_EXTRA_MB = num(process.env.BENCH_S3_EXTRA_MB, 400);
const THROUGHPUT_CONCURRENCY = (process.env.BENCH_THROUGHPUT_CONCURRENCY || '1,10,50').split(',').map(Number);
const THROUGHPUT_SECONDS = num(process.env.BENCH_THROUGHPUT_SECONDS, 20);
const THROUGHPUT_TIER = process.env.BENCH_THROUGHPUT_TIER !== '0';
const LAB_SCRIPTS = resolve('test/lab');
export const ALL_CASES = [
  'orchestration',
  'backup-stream',
  'backup-2gb',
  'restore-chain',
  'pitr-rpo',
  'galera',
  'fanout',
  'drill',
  'rebuild',
  'big',
  'history',
  's3-repo',
  'throughput',
];
const CASES = new Set(
  (process.env.BENCH_CASES ?? ALL_CASES.join(','))
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean),
);
const BASE = resolve(process.env.BENCH_BASE ?? 'bench/results.json');

async function versions(): Promise<Record<string, string>> {
  const v = async (cmd: string) =>
    (await execa('bash', ['-c', cmd], { reject: false })).stdout.split('\n')[0]?.trim() ?? '?';
  return {
    node: process.version,
    mariabackup: await v('mariabackup --version 2>&1 | grep -o "server.*" || mariabackup --version 2>&1'),
    zstd: await v('zstd --version'),
    gpg: await v('gpg --version'),
    openssh: await v('ssh -V 2>&1'),
    cpu: cpus()[0]?.model ?? '?',
  };
}

function knownHosts(labDir: string, hosts: Record<string, { address: string }>, file: string): string {
  const lines = Object.entries(hosts).map(
    ([name, h]) =>
      `${h.address} ${readFileSync(join(labDir, name, 'ssh/host_ed25519.pub'), 'utf8')
        .trim()
        .split(' ')
        .slice(0, 2)
        .join(' ')}`,
  );
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/**
 * Fills `host` with `rows` (the lab's generator, ~1.9 KB of datadir a row), replacing the lab's
 * schemas, and gives it the backup user the lab's config names (ctl2 has none of its own).
 */
export async function loadRows(labDir: string, host: string, rows: number): Promise<void> {
  const m = `mariadb --defaults-file=${labDir}/${host}/my.cnf`;
  log(`loading ${rows} rows into ${host} (this takes minutes)`);
  await bash(`${m} -e 'DROP DATABASE IF EXISTS keystone; DROP DATABASE IF EXISTS nova; DROP DATABASE IF EXISTS cinder; DROP DATABASE IF EXISTS glance; DROP DATABASE IF EXISTS neutron;'
${m} < ${LAB_SCRIPTS}/schema.sql
bash ${LAB_SCRIPTS}/load.sql.sh ${rows} | ${m} -D keystone
${LAB_SCRIPTS}/db.sh stop ${labDir}/${host} && ip netns exec osb-${host} ${LAB_SCRIPTS}/db.sh start ${labDir}/${host}`);
  await grantBackupUser(host);
  log(`${host} datadir: ${(await bash(`du -sh ${labDir}/${host}/data | cut -f1`)).trim()}`);
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const labConfig = labConfigPath();
  const labDir = labDirOf();
  const lab = loadConfig(labConfig);
  const scratch = resolve('.dev/bench');
  mkdirSync(scratch, { recursive: true });
  const kh = knownHosts(labDir, lab.clouds.lab!.hosts, join(scratch, 'known_hosts'));
  const t0 = performance.now();
  // every case measured so far; this run replaces the sections of the cases it runs
  const base: Partial<Results> = existsSync(BASE) ? (JSON.parse(readFileSync(BASE, 'utf8')) as Results) : {};
  const results: Results = {
    ...base,
    date: new Date().toISOString(),
    cores: cpus().length,
    memGiB: totalmem() / 2 ** 30,
    versions: await versions(),
    reps: REPS,
    seedReps: SEED_REPS,
    backups: base.backups ?? [],
    measuredAt: { ...(base.measuredAt ?? {}) },
  };
  const measured = (c: string) => (results.measuredAt![c] = new Date().toISOString());

  if (CASES.has('orchestration')) {
    log(`orchestration: workflows of 0 and ${STEPS} activities`);
    results.orchestration = await orchestrationCase(lab, STEPS, Math.max(REPS, 3));
    measured('orchestration');
  }

  const backupCase = async (label: string, host: string) => {
    const cfg = configWithOwnRepo(`bench-${label}`, (c) => (c.clouds.lab.database.host = host));
    results.backups = results.backups.filter((b) => b.label !== label);
    results.backups.push(
      await backupStreamCase({
        label,
        config: loadConfig(cfg.configFile),
        configFile: cfg.configFile,
        cloud: 'lab',
        host,
        labDir,
        knownHosts: kh,
        scratch,
        reps: REPS,
        seedReps: SEED_REPS,
      }),
    );
    results.backups.sort((a, b) => a.streamBytes - b.streamBytes);
  };
  if (CASES.has('backup-stream')) {
    await backupCase('default', 'ctl1');
    measured('backup-stream');
  }
  if (BIG_ROWS > 0 && CASES.has('backup-2gb')) {
    await loadRows(labDir, 'ctl2', BIG_ROWS);
    await backupCase('2GB', 'ctl2');
    measured('backup-2gb');
  }

  if (CASES.has('restore-chain')) {
    // the chain of a 2 GB database: ctl2 is its source, ctl1 the host it is restored onto
    await loadRows(labDir, 'ctl2', BIG_ROWS);
    const chainCfg = configWithOwnRepo('bench-chain', (c) => (c.clouds.lab.database.host = 'ctl2'));
    results.restore = await restoreChainCase({
      config: loadConfig(chainCfg.configFile),
      configFile: chainCfg.configFile,
      cloud: 'lab',
      source: 'ctl2',
      target: 'ctl1',
      labDir,
      labScripts: LAB_SCRIPTS,
      knownHosts: kh,
      incrementals: 6,
      reps: REPS,
    });
    measured('restore-chain');
  }

  if (RPO_SECONDS > 0 && CASES.has('pitr-rpo')) {
    log(`binlog archiving: achieved RPO under ${RPO_TPS} transactions/s for ${RPO_SECONDS} s`);
    const rpoCfg = configWithOwnRepo('bench-rpo');
    results.rpo = await pitrRpoCase({
      config: loadConfig(rpoCfg.configFile),
      configFile: rpoCfg.configFile,
      cloud: 'lab',
      host: 'ctl1',
      seconds: RPO_SECONDS,
      tps: RPO_TPS,
    });
    measured('pitr-rpo');
  }

  if (CASES.has('galera')) {
    if (!existsSync(join(labDir, 'galera/cloud.yml')))
      throw new Error(
        'the galera case needs the Galera cluster: bring the lab up with LAB_GALERA=1 (./dev bench does)',
      );
    log('galera: the longest write stall while a non-writer node is backed up');
    const g = configWithOwnRepo('bench-galera', (c) => {
      const cloud = galeraCloud();
      cloud.database.galera = { ...cloud.database.galera, writer: 'gal3' };
      c.clouds = { galera: cloud };
      c.defaultCloud = 'galera';
    });
    results.galera = await galeraStallCase({
      config: loadConfig(g.configFile),
      configFile: g.configFile,
      writer: 'gal3',
      reps: REPS,
      rate: 20,
    });
    measured('galera');
  }

  const needsOpenStack = (c: string) => {
    if (!lab.clouds.openstack?.dr)
      throw new Error(
        `the ${c} case needs the lab's OpenStack: bring the lab up with LAB_OPENSTACK=1 (./dev bench does)`,
      );
  };
  if (CASES.has('drill')) {
    needsOpenStack('drill');
    log("dr drill: RTO of the lab's OpenStack databases restored onto ctl2");
    const d = configWithOwnRepo('bench-drill', (c) => {
      c.clouds.openstack.hosts.ctl2 = structuredClone(c.clouds.lab.hosts.ctl2);
      c.clouds.openstack.drill = { host: 'ctl2' };
    });
    results.drill = await drillCase({
      configFile: d.configFile,
      taskQueue: loadConfig(d.configFile).temporal.taskQueue,
      cloud: 'openstack',
      host: 'ctl2',
      labDir,
      labScripts: LAB_SCRIPTS,
      reps: REPS,
    });
    measured('drill');
  }

  if (CASES.has('rebuild')) {
    needsOpenStack('rebuild');
    log("dr rebuild: RTO of the lab's OpenStack rebuilt from backups after a wipe");
    const rb = configWithOwnRepo('bench-rebuild');
    results.rebuild = await rebuildCase({
      configFile: rb.configFile,
      taskQueue: loadConfig(rb.configFile).temporal.taskQueue,
      cloud: 'openstack',
      labDir,
      labScripts: LAB_SCRIPTS,
      reps: Math.min(REPS, 2),
    });
    measured('rebuild');
  }

  if (CASES.has('big')) {
    log(`big: a ${BIG20_ROWS}-row database (≈ ${((BIG20_ROWS * 1900) / 1e9).toFixed(0)} GB) on ctl2`);
    const cfg = configWithOwnRepo('bench-big20', (c) => (c.clouds.lab.database.host = 'ctl2'));
    results.big = await bigDatabaseCase({
      config: loadConfig(cfg.configFile),
      configFile: cfg.configFile,
      labDir,
      labScripts: LAB_SCRIPTS,
      knownHosts: kh,
      scratch,
      rows: BIG20_ROWS,
      cacheDir: join(scratch, `big-${BIG20_ROWS}`),
      seed: BIG20_SEED,
    });
    await rm(cfg.dir, { recursive: true, force: true });
    measured('big');
  }

  if (CASES.has('s3-repo')) {
    log(`s3-repo: backup and restore with the repository in the lab's Swift against a local repository`);
    const swift = join(labDir, 'ctl1/swift');
    const local = configWithOwnRepo('bench-s3repo-local');
    const s3 = configWithOwnRepo('bench-s3repo', (c) => {
      c.repository = {
        type: 's3',
        name: 'bucket',
        endpoint: readFileSync(join(swift, 's3-endpoint'), 'utf8').trim(),
        bucket: readFileSync(join(swift, 's3-bucket'), 'utf8').trim(),
        prefix: `bench-s3repo-${process.pid}/`,
        forcePathStyle: true,
        checksumMode: 'WHEN_REQUIRED',
        deleteMode: 'batch-md5',
        accessKeyId: { file: join(swift, 's3-access-key') },
        secretAccessKey: { file: join(swift, 's3-secret-key') },
      };
      onlyClouds(c, 'lab'); // the other clouds' sections need a folder repository
    });
    results.s3Repo = await s3RepositoryCase({
      local: { config: loadConfig(local.configFile), configFile: local.configFile },
      s3: { config: loadConfig(s3.configFile), configFile: s3.configFile },
      cloud: 'lab',
      source: 'ctl1',
      target: 'ctl2',
      extraMB: S3_EXTRA_MB,
      reps: REPS,
    });
    await rm(local.dir, { recursive: true, force: true });
    measured('s3-repo');
  }

  let fanout = '';
  if (VOLUMES > 0 && CASES.has('fanout')) {
    needsOpenStack('fanout');
    fanout = renderVolumeFanout(await volumeFanoutCase(VOLUMES, VOLUME_CONCURRENCY), new Date().toISOString());
    results.fanoutMarkdown = fanout;
    measured('fanout');
  }
  if (CASES.has('history')) {
    const h = configWithOwnRepo(
      'bench-history',
      (c) => (c.clouds.lab.database.binlog = { ...c.clouds.lab.database.binlog, segmentSeconds: 1 }),
    );
    results.historyMarkdown = renderHistoryLimits(
      await historyLimitsCase({
        config: loadConfig(h.configFile),
        configFile: h.configFile,
        cloud: 'lab',
        host: 'ctl1',
        steps: HISTORY_STEPS,
      }),
      new Date().toISOString(),
    );
    await rm(h.dir, { recursive: true, force: true });
    measured('history');
  }
  if (CASES.has('throughput')) {
    const cluster = clusterConfigPath();
    log(`throughput: one worker on the lab's Temporal cluster, ${THROUGHPUT_CONCURRENCY.join(', ')} runs in flight`);
    const t = configWithOwnRepo('bench-throughput', () => undefined, cluster);
    results.throughput = await clusterThroughputCase({
      configFile: t.configFile,
      cloud: 'lab',
      taskQueue: loadConfig(t.configFile).temporal.taskQueue,
      clusterDir: clusterDirOf(cluster),
      concurrency: THROUGHPUT_CONCURRENCY,
      windowSeconds: THROUGHPUT_SECONDS,
      tier: THROUGHPUT_TIER,
    });
    await rm(t.dir, { recursive: true, force: true });
    await rm(dirname(t.configFile), { recursive: true, force: true });
    measured('throughput');
  }
  results.wallSeconds = (performance.now() - t0) / 1000;
  writeFileSync(OUT, renderResults(results, existsSync(OUT) ? readFileSync(OUT, 'utf8') : ''));
  writeFileSync(BASE, JSON.stringify(results, null, 2));
  log(`wrote ${OUT} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
