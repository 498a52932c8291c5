// `npm run bench`: every case on the lab in one run, then bench/results.md. Timing targets
// live here, never in tests. Knobs: BENCH_REPS (3), BENCH_SEED_REPS (2), BENCH_BIG_ROWS
// (1100000 nova.instances rows ≈ 2 GB of datadir; 0 leaves the big variant out, for a quick
// look only), BENCH_STEPS (100), BENCH_RPO_SECONDS (120 of steady writes for the binlog
// archiver's achieved RPO; 0 leaves it out), BENCH_RPO_TPS (10), BENCH_VOLUMES (120 volumes for the Cinder snapshot fan-out; 0 leaves it out),
// BENCH_VOLUME_CONCURRENCY (8), BENCH_OUT (bench/results.md),
// BENCH_CASES (comma list of orchestration, backup-stream, restore-chain, pitr-rpo, galera, fanout, drill, rebuild, big; default
// all): the cases left out keep their figures from BENCH_BASE (.dev/bench/results.json, the
// previous full run), so one case can be measured again without the hour the rest takes.
import { cpus, totalmem } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { loadConfig } from '../config/load.js';
import { configWithOwnRepo, labConfigPath, labDir as labDirOf } from '../test/helpers/lab.js';
import { backupStreamCase } from './cases/backup-stream.js';
import { orchestrationCase } from './cases/orchestration.js';
import { restoreChainCase } from './cases/restore-chain.js';
import { pitrRpoCase } from './cases/pitr-rpo.js';
import { galeraStallCase } from './cases/galera-stall.js';
import { drillCase } from './cases/dr-drill.js';
import { rebuildCase } from './cases/dr-rebuild.js';
import { galeraCloud } from '../test/helpers/galera.js';
import { existsSync } from 'node:fs';
import { renderVolumeFanout, volumeFanoutCase } from './cases/volume-fanout.js';
import { bash } from './lib/sh.js';
import { log } from './lib/stats.js';
import { renderResults, type Results } from './report.js';

const num = (v: string | undefined, d: number) => (v === undefined || v === '' ? d : Number(v));
const REPS = num(process.env.BENCH_REPS, 3);
const SEED_REPS = num(process.env.BENCH_SEED_REPS, 2);
const BIG_ROWS = num(process.env.BENCH_BIG_ROWS, 1_100_000);
const STEPS = num(process.env.BENCH_STEPS, 100);
const RPO_SECONDS = num(process.env.BENCH_RPO_SECONDS, 120);
const RPO_TPS = num(process.env.BENCH_RPO_TPS, 10);
const OUT = resolve(process.env.BENCH_OUT ?? 'bench/results.md');
/** Volumes for the Cinder snapshot fan-out (the lab's OpenStack; 0 leaves it out). */
const VOLUMES = num(process.env.BENCH_VOLUMES, 120);
const VOLUME_CONCURRENCY = num(process.env.BENCH_VOLUME_CONCURRENCY, 8);
const LAB_SCRIPTS = resolve('test/lab');
const CASES = new Set(
  (process.env.BENCH_CASES ?? 'orchestration,backup-stream,restore-chain,pitr-rpo,galera,fanout,drill,rebuild,big')
    .split(',')
    .map((c) => c.trim()),
);
const BASE = resolve(process.env.BENCH_BASE ?? '.dev/bench/results.json');

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

/** Fills ctl2 with `rows` (the lab's generator, ~1.9 KB of datadir a row), replacing what is there. */
async function loadBig(labDir: string, rows: number): Promise<void> {
  const m = `mariadb --defaults-file=${labDir}/ctl2/my.cnf`;
  log(`loading ${rows} rows into ctl2 for the big variant (this takes minutes)`);
  await bash(`${m} -e 'DROP DATABASE IF EXISTS keystone; DROP DATABASE IF EXISTS nova; DROP DATABASE IF EXISTS cinder; DROP DATABASE IF EXISTS glance; DROP DATABASE IF EXISTS neutron;'
${m} < ${LAB_SCRIPTS}/schema.sql
bash ${LAB_SCRIPTS}/load.sql.sh ${rows} | ${m} -D keystone
${LAB_SCRIPTS}/db.sh stop ${labDir}/ctl2 && ip netns exec osb-ctl2 ${LAB_SCRIPTS}/db.sh start ${labDir}/ctl2`);
  log(`ctl2 datadir: ${(await bash(`du -sh ${labDir}/ctl2/data | cut -f1`)).trim()}`);
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
  const all = [
    'orchestration',
    'backup-stream',
    'restore-chain',
    'pitr-rpo',
    'galera',
    'fanout',
    'drill',
    'rebuild',
    'big',
  ].every((c) => CASES.has(c));
  // a subset: the other cases' figures come from the previous full run, and say so
  const base: Partial<Results> = all ? {} : (JSON.parse(readFileSync(BASE, 'utf8')) as Results);
  const results: Results = {
    ...base,
    date: base.date ?? new Date().toISOString(),
    cores: cpus().length,
    memGiB: totalmem() / 2 ** 30,
    versions: await versions(),
    reps: REPS,
    seedReps: SEED_REPS,
    backups: base.backups ?? [],
  };
  if (!all) results.partial = { cases: [...CASES], at: new Date().toISOString() };

  if (CASES.has('orchestration')) {
    log(`orchestration: workflows of 0 and ${STEPS} activities`);
    results.orchestration = await orchestrationCase(lab, STEPS, Math.max(REPS, 3));
  }

  if (CASES.has('backup-stream')) {
    const def = configWithOwnRepo('bench-default');
    results.backups = results.backups.filter((b) => b.label !== 'default');
    results.backups.unshift(
      await backupStreamCase({
        label: 'default',
        config: loadConfig(def.configFile),
        configFile: def.configFile,
        cloud: 'lab',
        host: 'ctl1',
        labDir,
        knownHosts: kh,
        scratch,
        reps: REPS,
        seedReps: SEED_REPS,
      }),
    );
  }

  if (CASES.has('restore-chain')) {
    const chainCfg = configWithOwnRepo('bench-chain');
    results.restore = await restoreChainCase({
      config: loadConfig(chainCfg.configFile),
      configFile: chainCfg.configFile,
      cloud: 'lab',
      source: 'ctl1',
      target: 'ctl2',
      labDir,
      labScripts: LAB_SCRIPTS,
      knownHosts: kh,
      incrementals: 6,
      reps: REPS,
    });
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
  }

  // the Galera cluster is opt-in (LAB_GALERA=1 / test/lab/galera.sh up): measured when it is up
  if (CASES.has('galera') && existsSync(join(labDir, 'galera/cloud.yml'))) {
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
  }

  // the drill of the lab's OpenStack cloud onto ctl2 (before the big variant fills ctl2)
  if (CASES.has('drill') && lab.clouds.openstack) {
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
  }

  // the rebuild of the lab's OpenStack from a wiped host (its dr section comes from the lab's config)
  if (CASES.has('rebuild') && lab.clouds.openstack?.dr) {
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
  }

  if (BIG_ROWS > 0 && CASES.has('big')) {
    await loadBig(labDir, BIG_ROWS);
    const big = configWithOwnRepo('bench-big', (c) => (c.clouds.lab.database.host = 'ctl2'));
    results.backups = results.backups.filter((b) => b.label !== '2GB');
    results.backups.push(
      await backupStreamCase({
        label: '2GB',
        config: loadConfig(big.configFile),
        configFile: big.configFile,
        cloud: 'lab',
        host: 'ctl2',
        labDir,
        knownHosts: kh,
        scratch,
        reps: REPS,
        seedReps: SEED_REPS,
      }),
    );
  }
  let fanout = '';
  if (VOLUMES > 0 && CASES.has('fanout'))
    fanout = renderVolumeFanout(await volumeFanoutCase(VOLUMES, VOLUME_CONCURRENCY), new Date().toISOString());
  if (all) results.wallSeconds = (performance.now() - t0) / 1000;
  writeFileSync(OUT, renderResults(results) + (fanout ? `\n${fanout}` : ''));
  writeFileSync(join(scratch, 'results.json'), JSON.stringify(results, null, 2));
  log(`wrote ${OUT} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
