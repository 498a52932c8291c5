// Case 2: restore of a 2 GB full backup + 6 incrementals of ~100 MB each. osbackup end to end
// (plan, stream each artifact from the repository through sha256 → gpg → ssh → zstd → mbstream,
// prepare, apply, stop, move back, start) against what an expert scripts by hand for the same
// chain from the same repository: every member streamed at once (gpg | ssh 'zstd -d | mbstream',
// its SHA-256 taken on the way), then prepare, apply in order, stop, move aside, move back, start.
import { rm } from 'node:fs/promises';
import type { Config } from '../../config/schema.js';
import { sql, startWorker, temporalClient } from '../../test/helpers/lab.js';
import { bash, q, sshCmd, timed } from '../lib/sh.js';
import { log, repeat, type Sample } from '../lib/stats.js';

export interface RestoreCaseInput {
  config: Config;
  configFile: string;
  cloud: string;
  source: string;
  target: string;
  labDir: string;
  labScripts: string;
  knownHosts: string;
  incrementals: number;
  reps: number;
}

export interface RestoreCaseResult {
  chain: string[];
  chainBytes: number;
  /** xbstream bytes of the full and of each incremental. */
  memberStreamBytes: number[];
  /** One passphrase key derivation of gpg (a tiny file decrypted), seconds: paid once per chain member. */
  gpgKdfSeconds: number;
  samples: { osbackup: Sample[]; hand: Sample[] };
}

export async function restoreChainCase(inp: RestoreCaseInput): Promise<RestoreCaseResult> {
  const { config, cloud, target, labDir } = inp;
  const tq = config.temporal.taskQueue;
  const worker = await startWorker(inp.configFile);
  const { client, close } = await temporalClient(inp.configFile);
  const chain: string[] = [];
  const memberStreamBytes: number[] = [];
  let chainBytes = 0;
  const samples: RestoreCaseResult['samples'] = { osbackup: [], hand: [] };
  try {
    for (let i = 0; i <= inp.incrementals; i++) {
      // a day's worth of changes: ~51,000 rows in a range of their own (~100 MB of pages)
      if (i > 0)
        await sql(
          inp.source,
          `USE keystone; UPDATE nova.instances SET progress = progress + 1, updated_at = now() WHERE id BETWEEN ${i * 100000} AND ${i * 100000 + 50999}; INSERT INTO keystone.project SELECT md5(concat('bench', ${i}, seq)), concat('bench-${i}-', seq), '{}', 'bench', 1, 'default', NULL, 0 FROM seq_1_to_200;`,
        );
      const r = (await client.workflow.execute('backupDatabaseWorkflow', {
        taskQueue: tq,
        workflowId: `bench-chain-${process.pid}-${i}`,
        args: [{ cloud, kind: i === 0 ? 'full' : 'incremental', tier: 'bench' }],
      })) as { backupId: string; bytes: number; streamBytes: number };
      chain.push(r.backupId);
      chainBytes += r.bytes;
      memberStreamBytes.push(r.streamBytes);
    }
    log(`restore chain: ${memberStreamBytes.map((b) => `${(b / 1e6).toFixed(0)} MB`).join(' + ')} of xbstream`);
    samples.osbackup = await repeat(
      inp.reps,
      `restore full + ${inp.incrementals} incrementals, osbackup`,
      async (rep) => {
        const { seconds, value } = await timed(() =>
          client.workflow.execute('restoreDatabaseWorkflow', {
            taskQueue: tq,
            workflowId: `bench-restore-${process.pid}-${rep}`,
            args: [{ cloud, targetHost: target, verify: false }],
          }),
        );
        const r = value as {
          asideDir: string | null;
          chain: string[];
          timings: { streamSeconds: number; prepareSeconds: number; copyBackSeconds: number };
        };
        if (r.chain.length !== chain.length)
          throw new Error(`restore used ${r.chain.length} artifacts, expected ${chain.length}`);
        if (r.asideDir) await rm(r.asideDir, { recursive: true, force: true });
        return {
          seconds,
          extra: {
            streamSeconds: r.timings.streamSeconds,
            prepareSeconds: r.timings.prepareSeconds,
            copyBackSeconds: r.timings.copyBackSeconds,
          },
        };
      },
    );
  } finally {
    await close();
    await worker.stop();
  }

  // By hand, from the same repository to the same host.
  const host = config.clouds[cloud]!.hosts[target]!;
  const m = host.mariadb!;
  const dir = `${labDir}/${target}/bench-hand`;
  const local = `${labDir}/bench-hand-gnupg`;
  const pass = config.encryption.passphrase!.file!;
  const ssh = sshCmd(host, inp.knownHosts);
  await bash(`rm -rf ${local} && mkdir -m 700 ${local}`);
  const gpg = `gpg --homedir ${local} --batch --quiet --pinentry-mode loopback --passphrase-file ${pass} -d`;
  if (config.repository.type !== 'local') throw new Error('the hand restore of this case reads a folder repository');
  const repoPath = config.repository.path;
  const streams = chain
    .map(
      (id, i) =>
        `${gpg} ${repoPath}/clouds/${cloud}/database/${id}/data.xb.zst.gpg | tee >(sha256sum > ${local}/${i}.sha256) | ${ssh} ${q(`mkdir -p ${dir}/${i} && zstd -dq | mbstream -x -C ${dir}/${i}`)} & pids+=($!)`,
    )
    .join('\n');
  const onHost = [
    'set -e',
    `mariabackup --prepare --target-dir=${dir}/0 2>/dev/null`,
    ...chain
      .slice(1)
      .map((_, k) => `mariabackup --prepare --target-dir=${dir}/0 --incremental-dir=${dir}/${k + 1} 2>/dev/null`),
    `${inp.labScripts}/db.sh stop ${labDir}/${target}`,
    `mv ${m.datadir} ${dir}/aside && mkdir -p ${m.datadir}`,
    `mariabackup --defaults-file=${m.defaultsFile} --move-back --target-dir=${dir}/0 --datadir=${m.datadir} 2>/dev/null`,
    `${inp.labScripts}/db.sh start ${labDir}/${target}`,
  ].join('\n');
  samples.hand = await repeat(inp.reps, `restore full + ${inp.incrementals} incrementals, by hand`, async () => {
    await bash(`rm -rf ${dir}`);
    const { seconds } = await timed(() =>
      bash(`pids=()\n${streams}\nfor p in "\${pids[@]}"; do wait "$p"; done\n${ssh} bash -s <<'HAND'\n${onHost}\nHAND`),
    );
    await bash(`rm -rf ${dir}`);
    return { seconds };
  });

  // what one passphrase key derivation costs (gpg pays one per artifact it decrypts)
  await bash(
    `echo x | gpg --homedir ${local} --batch --quiet --pinentry-mode loopback --passphrase-file ${pass} --symmetric --cipher-algo AES256 -o ${local}/tiny.gpg`,
  );
  const kdf = await timed(() =>
    bash(Array.from({ length: 7 }, () => `${gpg} ${local}/tiny.gpg >/dev/null`).join('\n')),
  );
  await rm(local, { recursive: true, force: true });
  return { chain, chainBytes, memberStreamBytes, gpgKdfSeconds: kdf.seconds / 7, samples };
}
