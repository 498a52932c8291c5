// Case 7: the DR drill's RTO on the lab. The lab's OpenStack cloud (os1's real service
// databases) is backed up and proven (VERIFIED) once, then drilled `reps` times onto ctl2
// (drDrillWorkflow: restore of the newest VERIFIED point + the seed's counts + the recorded
// checksums). The figures are the drills' own records: RTO per step and in total. ctl2's data
// from before the case is put back at the end, as the integration test does.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DrDrillResult } from '../../workflows/dr-drill.js';
import { onLabHost, startWorker, temporalClient } from '../../test/helpers/lab.js';
import { timed } from '../lib/sh.js';
import { repeat, type Sample } from '../lib/stats.js';

export interface DrillCaseInput {
  configFile: string;
  taskQueue: string;
  cloud: string;
  /** The drill host (a lab host folder name: its aside folders are cleaned up). */
  host: string;
  labDir: string;
  labScripts: string;
  reps: number;
}

export interface DrillCaseResult {
  backupId: string;
  /** seconds: the drill's RTO; extra: each step's seconds and the whole workflow's wall time. */
  samples: Sample[];
}

export async function drillCase(inp: DrillCaseInput): Promise<DrillCaseResult> {
  const dir = join(inp.labDir, inp.host);
  const asides = () =>
    readdirSync(dir)
      .filter((n) => n.startsWith('data.before-'))
      .sort();
  const before = asides();
  const worker = await startWorker(inp.configFile);
  const { client, close } = await temporalClient(inp.configFile);
  const q = { taskQueue: inp.taskQueue };
  try {
    const b = (await client.workflow.execute('backupDatabaseWorkflow', {
      ...q,
      workflowId: `bench-drill-backup-${process.pid}`,
      args: [{ cloud: inp.cloud, kind: 'full', tier: 'bench' }],
    })) as { backupId: string };
    await client.workflow.execute('restoreDatabaseWorkflow', {
      ...q,
      workflowId: `bench-drill-verify-${process.pid}`,
      args: [{ cloud: inp.cloud, targetHost: inp.host, backupId: b.backupId, verify: true }],
    });
    const samples = await repeat(inp.reps, `DR drill of ${inp.cloud} onto ${inp.host}`, async (rep) => {
      const { seconds, value } = await timed(() =>
        client.workflow.execute('drDrillWorkflow', {
          ...q,
          workflowId: `bench-drill-${process.pid}-${rep}`,
          args: [{ cloud: inp.cloud }],
        }),
      );
      const r = (value as DrDrillResult).record;
      if (r.result !== 'passed') throw new Error(`drill ${r.id} ${r.result}: ${r.breaches.join('; ')}`);
      return {
        seconds: r.rtoSeconds,
        extra: { workflowSeconds: seconds, ...Object.fromEntries(r.steps.map((s) => [s.name, s.seconds])) },
      };
    });
    return { backupId: b.backupId, samples };
  } finally {
    await close();
    await worker.stop();
    const mine = asides().filter((n) => !before.includes(n));
    if (mine.length)
      await onLabHost(
        inp.host,
        `set -e; ${inp.labScripts}/db.sh stop ${dir}; rm -rf ${dir}/data ${mine
          .slice(1)
          .map((n) => `${dir}/${n}`)
          .join(' ')}; mv ${dir}/${mine[0]} ${dir}/data; ${inp.labScripts}/db.sh start ${dir}`,
      );
  }
}
