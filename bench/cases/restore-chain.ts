// Case 2: restore of a full backup + 6 incrementals. osbackup end to end (plan, stream each
// artifact from the repository through sha256 → gpg → zstd → ssh → mbstream, prepare, apply,
// stop, copy back, start) against the same mariabackup steps run by hand on a chain that is
// already extracted on the target: the hand time has no transfer, decryption or extraction in
// it, so the ratio shows what osbackup's transfer costs beyond the unavoidable work.
import { rm } from 'node:fs/promises';
import type { Config } from '../../config/schema.js';
import { sql, startWorker, temporalClient } from '../../test/helpers/lab.js';
import { bash, sshCmd, timed } from '../lib/sh.js';
import { repeat, type Sample } from '../lib/stats.js';

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
  samples: { osbackup: Sample[]; hand: Sample[] };
}

export async function restoreChainCase(inp: RestoreCaseInput): Promise<RestoreCaseResult> {
  const { config, cloud, target, labDir } = inp;
  const tq = config.temporal.taskQueue;
  const worker = await startWorker(inp.configFile);
  const { client, close } = await temporalClient(inp.configFile);
  const chain: string[] = [];
  let chainBytes = 0;
  const samples: RestoreCaseResult['samples'] = { osbackup: [], hand: [] };
  try {
    for (let i = 0; i <= inp.incrementals; i++) {
      // a day's worth of changes: rows spread over the table, so every incremental carries pages
      if (i > 0)
        await sql(
          inp.source,
          `USE keystone; UPDATE nova.instances SET progress = progress + 1, updated_at = now() WHERE id % 50 = ${i}; INSERT INTO keystone.project SELECT md5(concat('bench', ${i}, seq)), concat('bench-${i}-', seq), '{}', 'bench', 1, 'default', NULL, 0 FROM seq_1_to_200;`,
        );
      const r = (await client.workflow.execute('backupDatabaseWorkflow', {
        taskQueue: tq,
        workflowId: `bench-chain-${process.pid}-${i}`,
        args: [{ cloud, kind: i === 0 ? 'full' : 'incremental', tier: 'bench' }],
      })) as { backupId: string; bytes: number };
      chain.push(r.backupId);
      chainBytes += r.bytes;
    }
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

  // The hand baseline: extract every artifact once (not timed), then time only the steps.
  const host = config.clouds[cloud]!.hosts[target]!;
  const m = host.mariadb!;
  const dir = `${labDir}/${target}/bench-hand`;
  const pass = config.encryption.passphrase!.file!;
  await rm(dir, { recursive: true, force: true });
  await bash(`mkdir -p ${dir}/gnupg && chmod 700 ${dir}/gnupg`);
  for (const [i, id] of chain.entries()) {
    await bash(
      `mkdir -p ${dir}/extracted/${i} && gpg --homedir ${dir}/gnupg --batch --quiet --pinentry-mode loopback --passphrase-file ${pass} -d ${config.repository.path}/clouds/${cloud}/database/${id}/data.xb.zst.gpg | zstd -dq | mbstream -x -C ${dir}/extracted/${i}`,
    );
  }
  const incs = chain
    .slice(1)
    .map((_, k) => `mariabackup --prepare --target-dir=${dir}/work/0 --incremental-dir=${dir}/work/${k + 1}`);
  const steps = [
    'set -e',
    `mariabackup --prepare --target-dir=${dir}/work/0`,
    ...incs,
    `${inp.labScripts}/db.sh stop ${labDir}/${target}`,
    `mv ${m.datadir} ${dir}/aside && mkdir -p ${m.datadir}`,
    `mariabackup --defaults-file=${m.defaultsFile} --copy-back --target-dir=${dir}/work/0 --datadir=${m.datadir}`,
    `${inp.labScripts}/db.sh start ${labDir}/${target}`,
  ].join(' 2>/dev/null\n');
  samples.hand = await repeat(
    inp.reps,
    `restore full + ${inp.incrementals} incrementals, by hand on extracted data`,
    async () => {
      await bash(`rm -rf ${dir}/work ${dir}/aside && cp -a ${dir}/extracted ${dir}/work && sync`);
      const { seconds } = await timed(() => bash(`${sshCmd(host, inp.knownHosts)} bash -s <<'HAND'\n${steps}\nHAND`));
      return { seconds };
    },
  );
  await rm(dir, { recursive: true, force: true });
  return { chain, chainBytes, samples };
}
