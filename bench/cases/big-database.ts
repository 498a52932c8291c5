// Case 10: the scale proof. A database of ≥ 20 GB (the lab's generator, built once by
// bench/big-data.sh and kept under .dev/bench) served by ctl2: the hand pipeline at that size, a
// full backup, changes with the binlog archiver running, an incremental, a restore of the chain
// onto an empty datadir and a restore to a point in time between the changes. Every workflow
// must finish with every activity at its first attempt (read from the histories); the worker's
// memory is sampled throughout. The changes land in the cached datadir: a later run starts from
// that state (a few MB more), never from a broken one.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { Config } from '../../config/schema.js';
import {
  activityAttempts,
  grantBackupUser,
  liveFacts,
  sql,
  startWorker,
  temporalClient,
  userRowsRead,
} from '../../test/helpers/lab.js';
import { bash, q, sshCmd, timed } from '../lib/sh.js';
import { log, type Sample } from '../lib/stats.js';

export interface BigCaseInput {
  config: Config;
  configFile: string;
  labDir: string;
  labScripts: string;
  knownHosts: string;
  scratch: string;
  /** nova.instances rows of the generated database (the size knob). */
  rows: number;
  /** Where the generated datadir is kept between runs. */
  cacheDir: string;
  /** Also time the cron + bash procedure at this size (a folder, tar czf, gpg, sha256sum, scp). */
  seed: boolean;
}

export interface BigCaseResult {
  rows: number;
  datadirBytes: number;
  streamBytes: number;
  storedBytes: number;
  incrementalBytes: number;
  /** Rows of user tables the live server read during the full backup (userstat). */
  rowsReadByBackup: number;
  full: Sample;
  fullStreamSeconds: number;
  incremental: Sample;
  hand: Sample;
  seed?: Sample;
  restore: { seconds: number; steps: Record<string, number>; equal: boolean };
  pitr: { seconds: number; steps: Record<string, number>; transactions: number; equal: boolean };
  /** Activities that ran more than once, over every workflow of the case (want: none). */
  retries: { workflow: string; activity: string; attempt: number }[];
  workerPeakRssMiB: number;
  /** Peak RSS within each step (the high-water mark reset between steps). */
  workerPeakRssByStepMiB?: Record<string, number>;
  workflows: number;
}

const GIB = 2 ** 30;
const GPG = (passFile: string) =>
  `gpg --batch --yes --quiet --pinentry-mode loopback --passphrase-file ${passFile} --symmetric --cipher-algo AES256 --compress-algo none -o -`;

/** Free bytes of the filesystem that holds `dir`. */
async function freeBytes(dir: string): Promise<number> {
  return Number((await bash(`df -B1 --output=avail ${q(dir)} | tail -1`)).trim());
}

/**
 * Refuses to start when the run cannot fit: the generated datadir (unless cached), then at the
 * worst moment either the seed procedure's folder and tarball, or the repository (full,
 * incremental) plus one restored copy. Stops with the figures instead of filling the disk.
 */
export async function checkBigDisk(cacheDir: string, rows: number, seed: boolean): Promise<void> {
  const datadir = rows * 1900; // ~1.9 KB of datadir a generated row
  const cached = existsSync(join(cacheDir, 'ready'));
  const need = (cached ? 0 : datadir) + Math.max(seed ? datadir * 1.35 : 0, datadir * 1.45) + 2 * GIB;
  const free = await freeBytes(existsSync(cacheDir) ? cacheDir : join(cacheDir, '..'));
  if (free < need)
    throw new Error(
      `the big case needs ${(need / GIB).toFixed(1)} GiB free under ${cacheDir} (${cached ? 'database cached' : `${(datadir / GIB).toFixed(1)} GiB database to generate`}, the repository and one restored copy${seed ? ' or the seed procedure’s copies' : ''}) and ${(free / GIB).toFixed(1)} GiB are free. Fix: free space there, or lower BENCH_BIG20_ROWS`,
    );
}

/**
 * Peak resident memory of a process, sampled every second (VmHWM at each reading). `phase(name)`
 * closes a phase: it keeps that phase's peak and resets the kernel's high-water mark
 * (clear_refs 5), so each step's peak is its own and the case's peak is the largest of them.
 */
function rssSampler(pid: number): {
  phase: (name: string) => void;
  stop: () => number;
  phases: Record<string, number>;
} {
  let peak = 0;
  let phasePeak = 0;
  const phases: Record<string, number> = {};
  const read = () => {
    try {
      const s = readFileSync(`/proc/${pid}/status`, 'utf8');
      phasePeak = Math.max(phasePeak, Number(/VmHWM:\s+(\d+) kB/.exec(s)?.[1] ?? 0) / 1024);
      peak = Math.max(peak, phasePeak);
    } catch {
      /* the process is gone: the last sample stands */
    }
  };
  const t = setInterval(read, 1000);
  return {
    phases,
    phase: (name) => {
      read();
      phases[name] = Math.round(phasePeak * 10) / 10;
      phasePeak = 0;
      try {
        writeFileSync(`/proc/${pid}/clear_refs`, '5');
      } catch {
        /* without the reset the next phase's peak includes this one's; still an upper bound */
      }
    },
    stop: () => {
      read();
      clearInterval(t);
      return peak;
    },
  };
}

export async function bigDatabaseCase(inp: BigCaseInput): Promise<BigCaseResult> {
  const { config, labDir, labScripts } = inp;
  const cloud = 'lab';
  const tq = config.temporal.taskQueue;
  const host = config.clouds[cloud]!.hosts.ctl2!;
  const ctl2 = join(labDir, 'ctl2');
  const db = (cmd: string) => bash(`${labScripts}/db.sh ${cmd} ${ctl2}`);
  const dbStart = () => bash(`ip netns exec osb-ctl2 ${labScripts}/db.sh start ${ctl2}`);
  await checkBigDisk(inp.cacheDir, inp.rows, inp.seed);
  log(`big: the ${inp.rows}-row database (built once under ${inp.cacheDir}; the first build takes ~15 min)`);
  await bash(`${join(labScripts, '../../bench/big-data.sh')} ${inp.rows} ${inp.cacheDir}`);

  // ctl2 serves the big datadir; its own data waits beside it
  await db('stop');
  await bash(`cd ${ctl2} && mv data data.lab && ln -s ${inp.cacheDir}/data data`);
  const restoreLab = async () => {
    await db('stop').catch(() => undefined);
    await bash(`cd ${ctl2} && rm -rf data data.source data.before-* restore && mv data.lab data`);
    await dbStart();
  };
  const workflowIds: string[] = [];
  try {
    await dbStart();
    await grantBackupUser('ctl2');
    await sql(
      'ctl2',
      `SET SESSION sql_log_bin=0; CREATE DATABASE IF NOT EXISTS osb_big; CREATE TABLE IF NOT EXISTS osb_big.marks (id INT PRIMARY KEY, phase VARCHAR(8), at DATETIME(3)); TRUNCATE osb_big.marks; FLUSH BINARY LOGS`,
    );
    const datadirBytes = Number((await bash(`du -sbL ${ctl2}/data | cut -f1`)).trim());
    log(`big: ctl2 serves ${(datadirBytes / 1e9).toFixed(1)} GB of datadir`);

    // the hand pipeline at this size (a), and the seed's procedure (b), before the repository fills
    const cnf = host.mariadb!.defaultsFile!;
    const pass = config.encryption.passphrase!.file!;
    const gnupg = join(inp.scratch, 'gnupg');
    const out = join(inp.scratch, 'big-hand.gpg');
    await bash(`mkdir -p -m 700 ${gnupg}`);
    const mb = `d=$(mktemp -d /tmp/bench-XXXX); trap 'rm -rf "$d"' EXIT; mariabackup --defaults-file=${cnf} --backup --stream=xbstream --target-dir="$d"`;
    const dropCaches = () => bash('sync; echo 3 > /proc/sys/vm/drop_caches');
    await dropCaches();
    const handRun = await timed(() =>
      bash(
        `${sshCmd(host, inp.knownHosts)} ${q(`${mb} 2>/dev/null | zstd -3 -T0 -q`)} | ${GPG(pass)} | tee >(sha256sum > ${out}.sha256) > ${out}`,
        { GNUPGHOME: gnupg },
      ),
    );
    await rm(out, { force: true });
    log(`big: hand pipeline ${handRun.seconds.toFixed(0)} s`);
    let seed: Sample | undefined;
    if (inp.seed) {
      const dir = `${ctl2}/bench-seed`;
      const onHost = [
        `set -e; rm -rf ${dir}; mkdir -p ${dir}`,
        `mariabackup --defaults-file=${cnf} --backup --target-dir=${dir}/full 2>/dev/null`,
        `tar czf ${dir}/full.tar.gz -C ${dir} full && rm -rf ${dir}/full`,
        `GNUPGHOME=${gnupg} ${GPG(pass).replace('-o -', `-o ${dir}/full.tar.gz.gpg`)} ${dir}/full.tar.gz && rm ${dir}/full.tar.gz`,
        `sha256sum ${dir}/full.tar.gz.gpg > ${dir}/full.tar.gz.gpg.sha256`,
      ].join(' && ');
      const s = await timed(async () => {
        await bash(`${sshCmd(host, inp.knownHosts)} ${q(onHost)}`);
        await bash(
          `scp -O -q -c aes256-gcm@openssh.com -i ${host.keyFile} -o BatchMode=yes -o UserKnownHostsFile=${inp.knownHosts} ${host.user}@${host.address}:${dir}/full.tar.gz.gpg ${out}`,
        );
      });
      await bash(`rm -rf ${dir} ${out}`);
      seed = { seconds: s.seconds };
      log(`big: seed procedure ${s.seconds.toFixed(0)} s`);
    }

    const worker = await startWorker(inp.configFile);
    const rss = rssSampler(worker.proc.pid!);
    const { client, close } = await temporalClient(inp.configFile);
    const run = async <T>(type: string, id: string, args: unknown): Promise<{ seconds: number; value: T }> => {
      workflowIds.push(id);
      return timed(() => client.workflow.execute(type, { taskQueue: tq, workflowId: id, args: [args] }) as Promise<T>);
    };
    const tag = `${process.pid}`;
    const archiverId = `bench-big-archive-${tag}`;
    try {
      // the full backup, with the server's per-table counters on: osbackup reads no row itself
      await dropCaches();
      const { result: full, rowsRead } = await userRowsRead('ctl2', () =>
        run<{ streamBytes: number; bytes: number; streamSeconds: number }>(
          'backupDatabaseWorkflow',
          `bench-big-full-${tag}`,
          { cloud, kind: 'full', tier: 'bench' },
        ),
      );
      log(`big: full backup ${full.seconds.toFixed(0)} s, ${(full.value.streamBytes / 1e9).toFixed(1)} GB xbstream`);
      rss.phase('full');

      // changes with the archiver running: A, the point in time, B; then the incremental
      const archiver = await client.workflow.start('pitrArchiveWorkflow', {
        taskQueue: tq,
        workflowId: archiverId,
        args: [{ cloud }],
      });
      workflowIds.push(archiver.workflowId);
      const change = (phase: string, from: number) =>
        sql(
          'ctl2',
          `USE osb_big; INSERT INTO marks SELECT seq, '${phase}', NOW(3) FROM seq_${from}_to_${from + 999}; UPDATE nova.instances SET progress = progress + 1 WHERE id BETWEEN ${from * 50} AND ${from * 50 + 49999}`,
        );
      await change('A', 1);
      await new Promise((r) => setTimeout(r, 1500));
      const at = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
      const atMarks = await sql('ctl2', 'CHECKSUM TABLE osb_big.marks');
      await new Promise((r) => setTimeout(r, 1500));
      await change('B', 1001);
      const inc = await run<{ bytes: number; streamBytes: number }>('backupDatabaseWorkflow', `bench-big-inc-${tag}`, {
        cloud,
        kind: 'incremental',
        tier: 'bench',
      });
      log(`big: incremental ${inc.seconds.toFixed(0)} s, ${(inc.value.streamBytes / 1e6).toFixed(0)} MB xbstream`);
      rss.phase('incremental+archive');
      // the binlog archive must hold everything up to the point in time before the restore plans it
      for (let i = 0; i < 240; i++) {
        const s = await archiver.query<{ caughtUpAt: string | null }>('status');
        if (s.caughtUpAt && Date.parse(s.caughtUpAt) > Date.parse(at) + 2000) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      await archiver.signal('stop');
      await archiver.result();
      // what the chain must reproduce, read from the source once nothing writes any more
      const tables = [...config.clouds[cloud]!.database.verifyTables, 'osb_big.marks'];
      log('big: reading the source facts for the independent comparison (a full scan, outside osbackup)');
      const sourceFacts = await liveFacts('ctl2', tables);

      // restore of the chain onto an empty datadir (the source's link waits beside it)
      await db('stop');
      await bash(`cd ${ctl2} && mv data data.source && mkdir data`);
      const restore = await run<RestoreOut>('restoreDatabaseWorkflow', `bench-big-restore-${tag}`, {
        cloud,
        targetHost: 'ctl2',
      });
      const restoredFacts = await liveFacts('ctl2', tables);
      const restoreEqual = JSON.stringify(restoredFacts) === JSON.stringify(sourceFacts);
      log(`big: chain restore ${restore.seconds.toFixed(0)} s, ${restore.value.verification}, equal: ${restoreEqual}`);
      rss.phase('restore');

      // restore to the point in time between A and B, again onto an empty datadir
      await db('stop');
      await bash(`cd ${ctl2} && rm -rf data && mkdir data`);
      const pitr = await run<RestoreOut>('restoreDatabaseWorkflow', `bench-big-pitr-${tag}`, {
        cloud,
        targetHost: 'ctl2',
        at,
      });
      const marks = await sql('ctl2', "SELECT COUNT(*), SUM(phase='A') FROM osb_big.marks");
      const pitrEqual = marks === '1000\t1000' && (await sql('ctl2', 'CHECKSUM TABLE osb_big.marks')) === atMarks;
      log(`big: point-in-time restore ${pitr.seconds.toFixed(0)} s, marks ${marks}, equal: ${pitrEqual}`);
      rss.phase('pitr');
      log(`big: worker peak RSS by step (MiB): ${JSON.stringify(rss.phases)}`);

      const retries: BigCaseResult['retries'] = [];
      for (const id of workflowIds)
        for (const a of await activityAttempts(client as Client, id))
          if (a.attempt !== 1) retries.push({ workflow: id, activity: a.activity, attempt: a.attempt });
      return {
        rows: inp.rows,
        datadirBytes,
        streamBytes: full.value.streamBytes,
        storedBytes: full.value.bytes,
        incrementalBytes: inc.value.bytes,
        rowsReadByBackup: rowsRead,
        full: { seconds: full.seconds, bytes: full.value.streamBytes },
        fullStreamSeconds: full.value.streamSeconds,
        incremental: { seconds: inc.seconds, bytes: inc.value.streamBytes },
        hand: { seconds: handRun.seconds, bytes: full.value.streamBytes },
        ...(seed ? { seed: { ...seed, bytes: full.value.streamBytes } } : {}),
        restore: { seconds: restore.seconds, steps: restore.value.timings, equal: restoreEqual },
        pitr: {
          seconds: pitr.seconds,
          steps: pitr.value.timings,
          transactions: pitr.value.pointInTime?.transactions ?? 0,
          equal: pitrEqual,
        },
        retries,
        workerPeakRssMiB: rss.stop(),
        workerPeakRssByStepMiB: rss.phases,
        workflows: workflowIds.length,
      };
    } finally {
      rss.stop();
      // an archiver a failed run left would go on archiving ctl2 into the next run's repository
      await client.workflow
        .getHandle(archiverId)
        .terminate('bench over')
        .catch(() => undefined);
      await close();
      await worker.stop();
    }
  } finally {
    await restoreLab();
  }
}

interface RestoreOut {
  verification: string;
  timings: Record<string, number>;
  pointInTime: { transactions: number } | null;
}
