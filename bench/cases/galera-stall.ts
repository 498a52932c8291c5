// Case 6: a Galera backup under a steady write load — the longest any write waited while the
// donor (a non-writer, desynced for the stream) was being backed up. Writes go to the writer
// over one connection at a fixed rate; each write's wait is measured from outside.
import type { Config } from '../../config/schema.js';
import type { BackupDatabaseResult } from '../../workflows/backup-database.js';
import { startWorker, temporalClient } from '../../test/helpers/lab.js';
import { startWriteLoad, waitClusterSynced, type GaleraNode } from '../../test/helpers/galera.js';
import { log } from '../lib/stats.js';

export interface GaleraStallInput {
  config: Config;
  configFile: string;
  writer: GaleraNode;
  reps: number;
  /** Writes per second the load attempts. */
  rate: number;
}

export interface GaleraStallResult {
  rate: number;
  runs: {
    donor: string;
    backupSeconds: number;
    streamBytes: number;
    writes: number;
    maxStallMs: number;
    failures: number;
  }[];
}

export async function galeraStallCase(inp: GaleraStallInput): Promise<GaleraStallResult> {
  const worker = await startWorker(inp.configFile);
  const { client, close } = await temporalClient(inp.configFile);
  const runs: GaleraStallResult['runs'] = [];
  try {
    for (let i = 0; i < inp.reps; i++) {
      await waitClusterSynced();
      const load = startWriteLoad(inp.writer, inp.rate);
      await new Promise((r) => setTimeout(r, 2000));
      const t0 = performance.now();
      const r = (await client.workflow.execute('backupDatabaseWorkflow', {
        taskQueue: inp.config.temporal.taskQueue,
        workflowId: `bench-galera-${process.pid}-${i}`,
        args: [{ cloud: 'galera', kind: 'full', tier: 'bench' }],
      })) as BackupDatabaseResult;
      const backupSeconds = (performance.now() - t0) / 1000;
      await new Promise((res) => setTimeout(res, 2000));
      const w = await load.stop();
      runs.push({ donor: r.donor ?? '?', backupSeconds, streamBytes: r.streamBytes, ...w });
      log(
        `galera backup ${i + 1}/${inp.reps} from ${r.donor}: ${backupSeconds.toFixed(1)} s, ${w.writes} writes, longest wait ${w.maxStallMs.toFixed(0)} ms`,
      );
    }
  } finally {
    await close();
    await worker.stop();
  }
  return { rate: inp.rate, runs };
}
