// Case 11: how large the histories of the longest-lived runs grow, against Temporal's limits
// (a workflow's history is refused at 51,200 events or 50 MB, warned about at 10,240 events or
// 10 MB; a single payload at 2 MB). The binlog archiver is the one run that never ends: it
// continues as new after `stepsPerRun` steps (500) or when Temporal suggests it, whichever comes
// first, so the history of one of its runs is what the namespace must carry per cloud. Measured:
// one whole run of the archiver at 1 s segments under a light write load, until its first
// continue-as-new: its events and bytes as Temporal counts them (describe), per step and whole.
import type { Config } from '../../config/schema.js';
import { sql, startWorker, temporalClient } from '../../test/helpers/lab.js';
import { log } from '../lib/stats.js';

export interface HistoryLimitsResult {
  archiver: {
    segmentSeconds: number;
    steps: number;
    /** Why the run continued as new: after stepsPerRun, or earlier because Temporal suggested it. */
    continuedAfterSteps: number;
    events: number;
    bytes: number;
    seconds: number;
    largestPayloadBytes: number;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function historyLimitsCase(inp: {
  config: Config;
  configFile: string;
  cloud: string;
  host: string;
  steps: number;
}): Promise<HistoryLimitsResult> {
  const { config, cloud, host } = inp;
  const tq = config.temporal.taskQueue;
  const schema = `bench_hist_${process.pid}`;
  const worker = await startWorker(inp.configFile);
  const { client, close } = await temporalClient(inp.configFile);
  const workflowId = `bench-history-archiver-${process.pid}`;
  let writing = true;
  try {
    await sql(host, `CREATE DATABASE IF NOT EXISTS ${schema}; CREATE TABLE ${schema}.t (id INT PRIMARY KEY, pad TEXT)`);
    await client.workflow.execute('backupDatabaseWorkflow', {
      taskQueue: tq,
      workflowId: `bench-history-full-${process.pid}`,
      args: [{ cloud, kind: 'full', tier: 'bench' }],
    });
    // a few commits a second, so most steps cut a segment (the heavier history)
    const writer = (async () => {
      for (let id = 1; writing; id++) {
        // a server restarted under the bench (another run on the lab) only pauses the load
        await sql(host, `INSERT INTO ${schema}.t VALUES (${id}, REPEAT('x', 500))`).catch(() => undefined);
        await sleep(300);
      }
    })();
    const t0 = performance.now();
    const handle = await client.workflow.start('pitrArchiveWorkflow', {
      taskQueue: tq,
      workflowId,
      args: [{ cloud, stepsPerRun: inp.steps }],
    });
    const first = handle.firstExecutionRunId;
    const run = client.workflow.getHandle(workflowId, first);
    log(
      `history: the archiver at ${config.clouds[cloud]!.database.binlog.segmentSeconds} s segments until its first continue-as-new (${inp.steps} steps at most)`,
    );
    let d = await run.describe();
    for (let i = 0; d.status.name === 'RUNNING'; i++) {
      await sleep(5000);
      d = await run.describe();
      if (i % 12 === 0) log(`history: ${d.historyLength} events, ${d.historySize ?? '?'} bytes`);
    }
    const seconds = (performance.now() - t0) / 1000;
    if (d.status.name !== 'CONTINUED_AS_NEW') throw new Error(`the archiver's first run ended ${d.status.name}`);
    // the payloads of that run: the largest one (the continue-as-new input carries the state)
    let largest = 0;
    let steps = 0;
    for (const e of (await run.fetchHistory()).events ?? []) {
      const sizes = JSON.stringify(e).length;
      largest = Math.max(largest, sizes);
      if (e.activityTaskScheduledEventAttributes?.activityType?.name === 'mariadbArchiveBinlog') steps++;
    }
    writing = false;
    await writer;
    await handle.signal('stop').catch(() => undefined);
    log(`history: ${steps} steps, ${d.historyLength} events, ${d.historySize} bytes in ${seconds.toFixed(0)} s`);
    return {
      archiver: {
        segmentSeconds: config.clouds[cloud]!.database.binlog.segmentSeconds,
        steps: inp.steps,
        continuedAfterSteps: steps,
        events: d.historyLength,
        bytes: d.historySize ?? NaN,
        seconds,
        largestPayloadBytes: largest,
      },
    };
  } finally {
    writing = false;
    await client.workflow
      .getHandle(workflowId)
      .terminate('bench over')
      .catch(() => undefined);
    await sql(host, `DROP DATABASE IF EXISTS ${schema}`).catch(() => undefined);
    await close();
    await worker.stop();
  }
}

export function renderHistoryLimits(r: HistoryLimitsResult, date: string): string {
  const a = r.archiver;
  const MB = 1024 * 1024;
  return [
    '<!-- history-limits -->',
    '## 13. History size of the longest runs',
    '',
    `Measured ${date} by \`BENCH_CASES=history ./dev bench\` on the lab (Temporal dev server). Temporal refuses a history at 51,200 events or 50 MB and warns at 10,240 events or 10 MB.`,
    '',
    '| run | steps | events | bytes | per step | share of the 50 MB / 51,200-event limit | wall s |',
    '|---|---|---|---|---|---|---|',
    `| binlog archiver, one run until continue-as-new (${a.segmentSeconds} s segments) | ${a.continuedAfterSteps} of ${a.steps} | ${a.events} | ${a.bytes} | ${(a.events / a.continuedAfterSteps).toFixed(1)} events, ${(a.bytes / a.continuedAfterSteps / 1024).toFixed(1)} KiB | ${((100 * a.bytes) / (50 * MB)).toFixed(1)} % / ${((100 * a.events) / 51200).toFixed(1)} % | ${a.seconds.toFixed(0)} |`,
    '',
    `- largest single event of that run: ${(a.largestPayloadBytes / 1024).toFixed(1)} KiB as JSON (the payload limit is 2 MB).`,
    '<!-- /history-limits -->',
    '',
  ].join('\n');
}
