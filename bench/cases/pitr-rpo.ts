// Case 5: the achieved RPO of continuous binlog archiving under a steady write load. A full
// backup, then pitrArchiveWorkflow runs while a writer commits small transactions at a
// fixed rate; the workflow's status query is sampled throughout. Two figures per sample: the
// achieved RPO the workflow reports (now − the last time the archive held everything the
// server had written), and, per write, how long it took until the archive held it (the
// exposure of that write) — measured from outside, not from what the workflow says.
import type { Config } from '../../config/schema.js';
import type { PitrArchiveStatus } from '../../workflows/pitr-archive.js';
import { sql, startWorker, temporalClient } from '../../test/helpers/lab.js';
import { log, median } from '../lib/stats.js';

export interface RpoCaseInput {
  config: Config;
  configFile: string;
  cloud: string;
  host: string;
  seconds: number;
  /** Transactions per second the writer commits. */
  tps: number;
}

export interface RpoCaseResult {
  segmentSeconds: number;
  rpoTargetSeconds: number;
  seconds: number;
  tps: number;
  writes: number;
  segments: number;
  storedBytes: number;
  reported: { median: number; p95: number; max: number; worst: number };
  exposure: { median: number; p95: number; max: number };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function pitrRpoCase(inp: RpoCaseInput): Promise<RpoCaseResult> {
  const { config, cloud, host } = inp;
  const tq = config.temporal.taskQueue;
  const schema = `bench_rpo_${process.pid}`;
  const worker = await startWorker(inp.configFile);
  const { client, close } = await temporalClient(inp.configFile);
  const workflowId = `bench-archive-binlogs-${process.pid}`;
  try {
    await sql(
      host,
      `CREATE DATABASE IF NOT EXISTS ${schema}; CREATE TABLE IF NOT EXISTS ${schema}.t (id INT PRIMARY KEY, at DATETIME(3), pad VARCHAR(200))`,
    );
    await client.workflow.execute('backupDatabaseWorkflow', {
      taskQueue: tq,
      workflowId: `bench-rpo-full-${process.pid}`,
      args: [{ cloud, kind: 'full', tier: 'bench' }],
    });
    const handle = await client.workflow.start('pitrArchiveWorkflow', {
      taskQueue: tq,
      workflowId,
      args: [{ cloud }],
    });
    const status = () => handle.query<PitrArchiveStatus>('status');
    // let the archiver catch up with what the backup left before measuring
    for (let s = await status(); !s.caughtUpAt; s = await status()) await sleep(200);

    const writes: { at: number; archivedAt?: number }[] = [];
    const reported: number[] = [];
    const end = Date.now() + inp.seconds * 1000;
    let id = 0;
    const writer = (async () => {
      // one transaction every 1/tps s, each its own commit; a bounded loop that stops itself
      while (Date.now() < end) {
        const t = Date.now();
        await sql(host, `INSERT INTO ${schema}.t VALUES (${++id}, NOW(3), REPEAT('x', 200))`);
        writes.push({ at: t });
        await sleep(Math.max(0, 1000 / inp.tps - (Date.now() - t)));
      }
    })();
    while (Date.now() < end + 2000) {
      const s = await status();
      const caught = s.caughtUpAt ? Date.parse(s.caughtUpAt) : 0;
      for (const w of writes) if (w.archivedAt === undefined && caught > w.at + 1) w.archivedAt = Date.now();
      if (s.rpo.achievedRpoSeconds !== null) reported.push(s.rpo.achievedRpoSeconds);
      await sleep(250);
    }
    await writer;
    // the last writes: wait for them to be archived too (bounded)
    for (let i = 0; i < 120 && writes.some((w) => w.archivedAt === undefined); i++) {
      const s = await status();
      const caught = s.caughtUpAt ? Date.parse(s.caughtUpAt) : 0;
      for (const w of writes) if (w.archivedAt === undefined && caught > w.at + 1) w.archivedAt = Date.now();
      await sleep(250);
    }
    await handle.signal('stop');
    const final = (await handle.result()) as PitrArchiveStatus;
    const exposure = writes.filter((w) => w.archivedAt !== undefined).map((w) => (w.archivedAt! - w.at) / 1000);
    log(
      `rpo: ${writes.length} writes, reported RPO median ${median(reported).toFixed(2)} s, write exposure median ${median(exposure).toFixed(2)} s`,
    );
    return {
      segmentSeconds: config.clouds[cloud]!.database.binlog.segmentSeconds,
      rpoTargetSeconds: config.clouds[cloud]!.database.binlog.rpoTargetSeconds,
      seconds: inp.seconds,
      tps: inp.tps,
      writes: writes.length,
      segments: final.segments,
      storedBytes: final.bytes,
      reported: {
        median: median(reported),
        p95: pct(reported, 95),
        max: Math.max(...reported),
        worst: final.worstRpoSeconds,
      },
      exposure: { median: median(exposure), p95: pct(exposure, 95), max: Math.max(...exposure) },
    };
  } finally {
    await client.workflow
      .getHandle(workflowId)
      .terminate('bench over')
      .then(
        () => undefined,
        () => undefined,
      );
    await sql(host, `DROP DATABASE IF EXISTS ${schema}`).catch(() => undefined);
    await close();
    await worker.stop();
  }
}
