// Case 3: per-activity overhead. A workflow of N no-op activities minus one of none, divided
// by N: what each step of a runbook costs in orchestration alone (same codec as osbackup).
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Config } from '../../config/schema.js';
import { connectionOptions, dataConverter as osbackupDataConverter } from '../../config/temporal.js';
import { timed } from '../lib/sh.js';
import { median, repeat, type Sample } from '../lib/stats.js';

export interface OrchestrationResult {
  steps: number;
  perActivityMs: number;
  emptyWorkflowMs: number;
  samples: { empty: Sample[]; steps: Sample[] };
}

export async function orchestrationCase(config: Config, steps: number, reps: number): Promise<OrchestrationResult> {
  const taskQueue = `bench-orchestration-${process.pid}`;
  const dataConverter = osbackupDataConverter(config);
  const nc = await NativeConnection.connect(connectionOptions(config));
  const worker = await Worker.create({
    connection: nc,
    namespace: config.temporal.namespace,
    taskQueue,
    workflowsPath: fileURLToPath(new URL('../orchestration-workflow.js', import.meta.url)),
    activities: { benchNoop: async (i: number) => i },
    dataConverter,
  });
  const connection = await Connection.connect({ address: config.temporal.address });
  const client = new Client({ connection, namespace: config.temporal.namespace, dataConverter });
  const run = (n: number, id: string) =>
    timed(() => client.workflow.execute('benchStepsWorkflow', { taskQueue, workflowId: id, args: [n] }));
  try {
    return await worker.runUntil(async () => {
      await run(1, `bench-orch-warmup-${process.pid}`);
      const empty = await repeat(reps, 'workflow with no activity', async (i) => ({
        seconds: (await run(0, `bench-orch-empty-${process.pid}-${i}`)).seconds,
      }));
      const many = await repeat(reps, `workflow with ${steps} activities`, async (i) => ({
        seconds: (await run(steps, `bench-orch-${steps}-${process.pid}-${i}`)).seconds,
      }));
      const e = median(empty.map((s) => s.seconds));
      const m = median(many.map((s) => s.seconds));
      return {
        steps,
        perActivityMs: ((m - e) / steps) * 1000,
        emptyWorkflowMs: e * 1000,
        samples: { empty, steps: many },
      };
    });
  } finally {
    await connection.close();
    await nc.close();
  }
}
