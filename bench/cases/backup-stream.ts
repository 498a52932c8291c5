// Case 1 (and 4): the full backup of one controller's database, osbackup against the
// pipelines an operator would write by hand over the same path, and the seed's procedure.
//   osbackup      worker: mariabackup ─ssh2─► zstd ─► gpg ─► sha256 ─► repository (then publish)
//   hand, remote  ssh 'mariabackup | zstd -T0' | gpg | tee >(sha256sum) > file
//   hand, local   ssh 'mariabackup' | zstd -T0 | gpg | tee >(sha256sum) > file
//   seed          on the controller: mariabackup to a folder, tar+gzip, gpg, sha256sum (each a
//                 pass of its own), then scp the result off
//   ceiling       on the controller, no SSH: mariabackup | zstd -T0 | gpg > file
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../../config/schema.js';
import { startWorker, temporalClient, userRowsRead } from '../../test/helpers/lab.js';
import { bash, q, sshCmd, timed } from '../lib/sh.js';
import { log, repeat, type Sample } from '../lib/stats.js';

export interface BackupCaseInput {
  label: string;
  config: Config;
  configFile: string;
  cloud: string;
  host: string;
  labDir: string;
  knownHosts: string;
  scratch: string;
  reps: number;
  seedReps: number;
}

export interface BackupCaseResult {
  label: string;
  streamBytes: number;
  storedBytes: number;
  workerPeakRssMiB: number;
  /** Rows of user tables the live server read during osbackup's first backup (its userstat counters). */
  rowsRead?: number;
  samples: Record<string, Sample[]>;
}

const GPG = (passFile: string) =>
  `gpg --batch --yes --quiet --pinentry-mode loopback --passphrase-file ${passFile} --symmetric --cipher-algo AES256 --compress-algo none -o -`;

export async function backupStreamCase(inp: BackupCaseInput): Promise<BackupCaseResult> {
  const { config, cloud, host: hostName, labDir, scratch } = inp;
  const host = config.clouds[cloud]!.hosts[hostName]!;
  const cnf = host.mariadb!.defaultsFile!;
  const passFile = config.encryption.passphrase!.file!;
  const ssh = sshCmd(host, inp.knownHosts);
  const gnupg = join(scratch, 'gnupg');
  await bash(`mkdir -p -m 700 ${gnupg} ${scratch}/out`);
  const env = { GNUPGHOME: gnupg };
  const mb = `mariabackup --defaults-file=${cnf} --backup --stream=xbstream --target-dir="$d"`;
  const remoteTmp = `d=$(mktemp -d /tmp/bench-XXXX); trap 'rm -rf "$d"' EXIT;`;
  const samples: Record<string, Sample[]> = {};

  // osbackup: a fresh worker per size, so its peak RSS (VmHWM) belongs to this size alone
  const worker = await startWorker(inp.configFile);
  const { client, close } = await temporalClient(inp.configFile);
  let streamBytes = 0;
  let storedBytes = 0;
  let rowsRead: number | undefined;
  try {
    samples.osbackup = await repeat(inp.reps, `${inp.label} osbackup`, async (rep) => {
      const backup = () =>
        timed(() =>
          client.workflow.execute('backupDatabaseWorkflow', {
            taskQueue: config.temporal.taskQueue,
            workflowId: `bench-backup-${inp.label}-${process.pid}-${rep}`,
            args: [{ cloud, kind: 'full', tier: 'bench' }],
          }),
        );
      // the first run with the server's per-table counters on: what osbackup reads beyond the page copy
      let run: Awaited<ReturnType<typeof backup>>;
      if (rep === 0) ({ result: run, rowsRead } = await userRowsRead(hostName, backup));
      else run = await backup();
      const { seconds, value: r } = run;
      const res = r as { streamBytes: number; bytes: number; streamSeconds: number; path: string };
      streamBytes = res.streamBytes;
      storedBytes = res.bytes;
      if (config.repository.type === 'local')
        await rm(join(config.repository.path, res.path), { recursive: true, force: true });
      return {
        seconds,
        bytes: res.streamBytes,
        extra: { streamPhaseMBps: res.streamBytes / 1e6 / res.streamSeconds, streamPhaseSeconds: res.streamSeconds },
      };
    });
  } finally {
    await close();
  }
  const status = readFileSync(`/proc/${worker.proc.pid}/status`, 'utf8');
  const workerPeakRssMiB = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
  await worker.stop();
  log(
    `${inp.label}: worker peak RSS ${workerPeakRssMiB.toFixed(0)} MiB over ${inp.reps} backups of ${(streamBytes / 1e6).toFixed(0)} MB`,
  );

  const out = `${scratch}/out/artifact.gpg`;
  const hand = (name: string, script: string) =>
    repeat(inp.reps, `${inp.label} ${name}`, async () => {
      await rm(out, { force: true });
      const { seconds } = await timed(() => bash(script, env));
      return { seconds, bytes: streamBytes };
    });
  samples.handRemoteZstd = await hand(
    'hand (zstd on the controller)',
    `${ssh} ${q(`${remoteTmp} ${mb} | zstd -3 -T0 -q`)} | ${GPG(passFile)} | tee >(sha256sum > ${out}.sha256) > ${out}`,
  );
  // mariabackup --parallel: more copy threads on the controller, measured against the same pipe
  samples.handRemoteParallel = await hand(
    'hand (zstd on the controller, mariabackup --parallel=4)',
    `${ssh} ${q(`${remoteTmp} ${mb} --parallel=4 | zstd -3 -T0 -q`)} | ${GPG(passFile)} | tee >(sha256sum > ${out}.sha256) > ${out}`,
  );
  samples.handLocalZstd = await hand(
    'hand (zstd on the worker)',
    `${ssh} ${q(`${remoteTmp} ${mb}`)} | zstd -3 -T0 -q | ${GPG(passFile)} | tee >(sha256sum > ${out}.sha256) > ${out}`,
  );
  samples.ceiling = await hand(
    'ceiling (local pipe on the controller)',
    `ip netns exec osb-${hostName} bash -c ${q(`set -o pipefail; ${remoteTmp} ${mb} 2>/dev/null | zstd -3 -T0 -q | GNUPGHOME=${gnupg} ${GPG(passFile)} > ${out}`)}`,
  );
  // The seed's way: every stage a full pass over the data on the controller's disk.
  const seedDir = `${labDir}/${hostName}/bench-seed`;
  samples.seed = await repeat(inp.seedReps, `${inp.label} seed procedure`, async () => {
    await rm(seedDir, { recursive: true, force: true });
    await rm(out, { force: true });
    const onHost = [
      `set -e; mkdir -p ${seedDir}`,
      `mariabackup --defaults-file=${cnf} --backup --target-dir=${seedDir}/full 2>/dev/null`,
      `tar czf ${seedDir}/full.tar.gz -C ${seedDir} full`,
      `GNUPGHOME=${gnupg} ${GPG(passFile).replace('-o -', `-o ${seedDir}/full.tar.gz.gpg`)} ${seedDir}/full.tar.gz`,
      `sha256sum ${seedDir}/full.tar.gz.gpg > ${seedDir}/full.tar.gz.gpg.sha256`,
    ].join(' && ');
    const { seconds } = await timed(async () => {
      await bash(`${ssh} ${q(onHost)}`, env);
      await bash(
        `scp -O -q -c aes256-gcm@openssh.com -i ${host.keyFile} -o BatchMode=yes -o UserKnownHostsFile=${inp.knownHosts} ${host.user}@${host.address}:${seedDir}/full.tar.gz.gpg ${out}`,
      );
    });
    return { seconds, bytes: streamBytes };
  });
  await rm(seedDir, { recursive: true, force: true });
  await rm(out, { force: true });
  return { label: inp.label, streamBytes, storedBytes, workerPeakRssMiB, rowsRead, samples };
}
