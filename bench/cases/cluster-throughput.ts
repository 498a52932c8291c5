// Case 14: what one osbackup worker completes on a production-shaped Temporal (the lab's cluster:
// the server on PostgreSQL, its frontend on mutual TLS, the payload codec on), so a site can tell
// how many clouds, tiers and archivers one worker and one namespace carry. The worker is the real
// process (`osbackup worker`, as the tests start it); the runs are real osbackup workflows whose
// activities only read the worker's own empty repository, so what is measured is orchestration:
// starts, task dispatch, history writes, the codec. C runs are kept in flight (a new one started
// as each ends) for a fixed window; throughput counts the runs that ended inside it, latencies
// come from the runs' histories (scheduled → started of every activity and workflow task).
// Last, one real tier run (a full backup of ctl1) says how many activities and events a tier has.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { startWorker, temporalClient, type WorkerProcess } from '../../test/helpers/lab.js';
import { log } from '../lib/stats.js';

type Event = temporal.api.history.v1.IHistoryEvent;
type Long = { toNumber(): number } | number | string | null | undefined;

export interface Percentiles {
  p50: number;
  p95: number;
  max: number;
}

export interface ThroughputLevel {
  shape: string;
  /** Runs kept in flight. */
  concurrency: number;
  /** The measuring window (after the warm-up). */
  seconds: number;
  /** Runs started by the bench that ended inside the window. */
  runs: number;
  failed: number;
  firstFailure?: string;
  /** Per run, from the sampled histories (children included). */
  perRun: { executions: number; activities: number; events: number };
  /** Start to result, of runs wholly inside the window (s). */
  runSeconds: Percentiles;
  /** Activity tasks, scheduled → started (ms). */
  activityStartMs: Percentiles;
  /** Workflow tasks, scheduled → started (ms). */
  workflowTaskStartMs: Percentiles;
  sampledRuns: number;
  /**
   * CPU over the window, % of one core; null when the process could not be read. `machine`: every
   * process; `others`: what is left after the bench client, the worker, the server and PostgreSQL.
   */
  cpu: {
    worker: number;
    client: number;
    server: number | null;
    postgres: number | null;
    machine: number;
    others: number;
  };
  workerRssMiB: number;
}

export interface ThroughputResult {
  server: { version: string; persistence: string; visibility: string; historyShards: number | null };
  cores: number;
  warmupSeconds: number;
  levels: ThroughputLevel[];
  workerIdleRssMiB: number;
  workerPeakRssMiB: number;
  /** One tier run (weekly: a full backup of the lab's database) with its children. */
  tier: { tier: string; seconds: number; executions: number; activities: number; events: number } | null;
}

/** The runs measured: real osbackup workflows whose activities only read the worker's repository. */
export const SHAPES = {
  catalog: {
    type: 'catalogListWorkflow',
    args: (cloud: string) => [{ cloud }],
    what: '`catalogListWorkflow` (`osbackup catalog list`): one activity',
  },
  report: {
    type: 'reportDataWorkflow',
    args: (cloud: string) => [{ cloud }],
    what: '`reportDataWorkflow` (`osbackup report`): two activities at once and a child workflow of two more',
  },
} as const;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const num = (v: Long) => (v === null || v === undefined ? 0 : typeof v === 'object' ? v.toNumber() : Number(v));
const ms = (t: Event['eventTime']) => num(t?.seconds) * 1000 + (t?.nanos ?? 0) / 1e6;

export function percentiles(xs: number[]): Percentiles {
  if (!xs.length) return { p50: NaN, p95: NaN, max: NaN };
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { p50: at(0.5), p95: at(0.95), max: s[s.length - 1]! };
}

/** utime + stime of a process in clock ticks; null when it is gone or unreadable. */
function ticks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return null;
  }
}

/** The postmaster and its children (PostgreSQL's backends, one per pooled connection). */
function postgresTicks(postmaster: number | null): number | null {
  if (postmaster === null) return null;
  let sum = ticks(postmaster);
  if (sum === null) return null;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[1]) === postmaster) sum += Number(f[11]) + Number(f[12]);
    } catch {
      // ended while listed
    }
  }
  return sum;
}

/** Busy and total jiffies of the whole machine (/proc/stat). */
function machine(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - f[4]!, total };
}

function vm(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) / 1024;
}

const pidIn = (file: string): number | null => {
  try {
    const p = Number(readFileSync(file, 'utf8').split('\n')[0]);
    return Number.isInteger(p) && p > 0 ? p : null;
  } catch {
    return null;
  }
};

/** A run's history and those of its children, followed down by their start events. */
async function treeHistories(client: Client, workflowId: string, runId?: string): Promise<Event[][]> {
  const events = (await client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
  const out = [events];
  for (const e of events) {
    const c = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
    if (c?.workflowId) out.push(...(await treeHistories(client, c.workflowId, c.runId ?? undefined)));
  }
  return out;
}

/** Scheduled → started of every activity and workflow task of one history (ms). */
function taskLatencies(events: Event[]): { activity: number[]; workflowTask: number[] } {
  const scheduled = new Map<number, number>();
  const activity: number[] = [];
  const workflowTask: number[] = [];
  for (const e of events) {
    if (e.activityTaskScheduledEventAttributes || e.workflowTaskScheduledEventAttributes)
      scheduled.set(num(e.eventId), ms(e.eventTime));
    const a = e.activityTaskStartedEventAttributes;
    if (a) activity.push(ms(e.eventTime) - scheduled.get(num(a.scheduledEventId))!);
    const w = e.workflowTaskStartedEventAttributes;
    if (w) workflowTask.push(ms(e.eventTime) - scheduled.get(num(w.scheduledEventId))!);
  }
  return { activity, workflowTask };
}

interface Counters {
  worker: number | null;
  server: number | null;
  postgres: number | null;
  machine: { busy: number; total: number };
  client: number;
  at: number;
}

export async function clusterThroughputCase(inp: {
  configFile: string;
  cloud: string;
  taskQueue: string;
  /** The cluster's folder (test/lab/temporal-cluster.sh's CLUSTER_DIR): its pid files. */
  clusterDir: string;
  concurrency: number[];
  windowSeconds: number;
  /** Run one real tier (a full backup of the cloud's database) to count its activities. */
  tier: boolean;
}): Promise<ThroughputResult> {
  const warmupSeconds = 3;
  const hz = Number((await execa('getconf', ['CLK_TCK'])).stdout) || 100;
  const serverPid = pidIn(join(inp.clusterDir, 'server.pid'));
  const postmaster = pidIn(join(inp.clusterDir, 'pg/data/postmaster.pid'));
  const worker: WorkerProcess = await startWorker(inp.configFile);
  const { client, close } = await temporalClient(inp.configFile);
  const wpid = worker.proc.pid!;
  // runs in flight when something throws: terminated in finally
  const inFlight = new Set<string>();
  let seq = 0;
  const counters = (): Counters => ({
    worker: ticks(wpid),
    server: serverPid === null ? null : ticks(serverPid),
    postgres: postgresTicks(postmaster),
    machine: machine(),
    client: (({ user, system }) => (user + system) / 1e6)(process.cpuUsage()),
    at: performance.now(),
  });
  const pct = (a: number | null, b: number | null, seconds: number) =>
    a === null || b === null ? null : (100 * (b - a)) / hz / seconds;
  const cores = Number((await execa('nproc')).stdout);
  const cpuOver = (a: Counters, b: Counters, seconds: number): ThroughputLevel['cpu'] => {
    const c = {
      worker: pct(a.worker, b.worker, seconds)!,
      client: (100 * (b.client - a.client)) / seconds,
      server: pct(a.server, b.server, seconds),
      postgres: pct(a.postgres, b.postgres, seconds),
      // /proc/stat counts every core: as % of one core like the rest
      machine: (100 * cores * (b.machine.busy - a.machine.busy)) / (b.machine.total - a.machine.total),
    };
    return { ...c, others: c.machine - c.worker - c.client - (c.server ?? 0) - (c.postgres ?? 0) };
  };

  const execute = async (shape: keyof typeof SHAPES, tag: string) => {
    const s = SHAPES[shape];
    const workflowId = `bench-thru-${process.pid}-${tag}-${seq++}`;
    inFlight.add(workflowId);
    try {
      await client.workflow.execute(s.type, { taskQueue: inp.taskQueue, workflowId, args: s.args(inp.cloud) });
    } finally {
      inFlight.delete(workflowId);
    }
    return workflowId;
  };

  const level = async (shape: keyof typeof SHAPES, c: number): Promise<ThroughputLevel> => {
    const t0 = performance.now();
    const from = t0 + warmupSeconds * 1000;
    const until = from + inp.windowSeconds * 1000;
    const done: { id: string; start: number; end: number }[] = [];
    const failures: string[] = [];
    let stop = false;
    const loop = async () => {
      while (!stop && performance.now() < until) {
        const start = performance.now();
        try {
          const id = await execute(shape, `${shape}-${c}`);
          done.push({ id, start, end: performance.now() });
        } catch (e) {
          failures.push(e instanceof Error ? `${e.message}${e.cause ? `: ${String(e.cause)}` : ''}` : String(e));
          // a cluster that refuses everything must not spin
          if (failures.length > 20) stop = true;
        }
      }
    };
    const loops = Array.from({ length: c }, loop);
    await sleep(from - performance.now());
    const a = counters();
    let rss = 0;
    const sampler = setInterval(() => (rss = Math.max(rss, vm(wpid, 'VmRSS'))), 250);
    await sleep(until - performance.now());
    const b = counters();
    clearInterval(sampler);
    await Promise.all(loops);
    const seconds = (b.at - a.at) / 1000;
    const counted = done.filter((d) => d.end >= a.at && d.end <= b.at);
    const whole = counted.filter((d) => d.start >= a.at);
    // histories of at most 120 runs, spread over the window
    const step = Math.max(1, Math.ceil(counted.length / 120));
    const sample = counted.filter((_, i) => i % step === 0);
    const act: number[] = [];
    const wft: number[] = [];
    let executions = 0;
    let activities = 0;
    let events = 0;
    for (const d of sample) {
      for (const h of await treeHistories(client, d.id)) {
        executions++;
        events += h.length;
        activities += h.filter((e) => e.activityTaskScheduledEventAttributes).length;
        const l = taskLatencies(h);
        act.push(...l.activity);
        wft.push(...l.workflowTask);
      }
    }
    const n = Math.max(1, sample.length);
    const r: ThroughputLevel = {
      shape,
      concurrency: c,
      seconds,
      runs: counted.length,
      failed: failures.length,
      ...(failures.length ? { firstFailure: failures[0] } : {}),
      perRun: { executions: executions / n, activities: activities / n, events: events / n },
      runSeconds: percentiles(whole.map((d) => (d.end - d.start) / 1000)),
      activityStartMs: percentiles(act),
      workflowTaskStartMs: percentiles(wft),
      sampledRuns: sample.length,
      cpu: cpuOver(a, b, seconds),
      workerRssMiB: rss,
    };
    log(
      `throughput: ${shape} × ${c} in flight: ${(r.runs / seconds).toFixed(1)} runs/s, ${((r.runs * r.perRun.activities) / seconds).toFixed(1)} activities/s, activity schedule-to-start p50 ${r.activityStartMs.p50.toFixed(0)} ms p95 ${r.activityStartMs.p95.toFixed(0)} ms, worker CPU ${r.cpu.worker.toFixed(0)} %, ${failures.length} failed`,
    );
    if (failures.length > Math.max(1, 0.01 * (counted.length + failures.length)))
      throw new Error(
        `${failures.length} ${SHAPES[shape].type} runs failed at ${c} in flight; the first: ${failures[0]}`,
      );
    return r;
  };

  try {
    const info = await client.connection.workflowService.getClusterInfo({});
    const shards = /numHistoryShards:\s*(\d+)/.exec(
      readFileSync(join(inp.clusterDir, 'config/temporal.yaml'), 'utf8'),
    )?.[1];
    for (const shape of Object.keys(SHAPES) as (keyof typeof SHAPES)[])
      for (let i = 0; i < 5; i++) await execute(shape, 'warmup');
    const workerIdleRssMiB = vm(wpid, 'VmRSS');
    const levels: ThroughputLevel[] = [];
    for (const shape of Object.keys(SHAPES) as (keyof typeof SHAPES)[])
      for (const c of inp.concurrency) levels.push(await level(shape, c));
    let tier: ThroughputResult['tier'] = null;
    if (inp.tier) {
      log(`throughput: one weekly tier run of ${inp.cloud} (a full backup) to count a tier's activities`);
      const t0 = performance.now();
      const workflowId = `bench-thru-${process.pid}-tier`;
      inFlight.add(workflowId);
      await client.workflow.execute('tierWorkflow', {
        taskQueue: inp.taskQueue,
        workflowId,
        args: [{ cloud: inp.cloud, tier: 'weekly' }],
      });
      inFlight.delete(workflowId);
      const seconds = (performance.now() - t0) / 1000;
      const hs = await treeHistories(client, workflowId);
      tier = {
        tier: 'weekly',
        seconds,
        executions: hs.length,
        activities: hs.reduce((s, h) => s + h.filter((e) => e.activityTaskScheduledEventAttributes).length, 0),
        events: hs.reduce((s, h) => s + h.length, 0),
      };
    }
    return {
      server: {
        version: info.serverVersion ?? '?',
        persistence: info.persistenceStore ?? '?',
        visibility: info.visibilityStore ?? '?',
        historyShards: shards ? Number(shards) : null,
      },
      cores,
      warmupSeconds,
      levels,
      workerIdleRssMiB,
      workerPeakRssMiB: vm(wpid, 'VmHWM'),
      tier,
    };
  } finally {
    for (const id of inFlight)
      await client.workflow
        .getHandle(id)
        .terminate('bench over')
        .catch(() => undefined);
    await close();
    await worker.stop();
  }
}

/** The cluster's folder from the config test/lab/temporal-cluster.sh wrote into it. */
export const clusterDirOf = (clusterConfig: string) => dirname(clusterConfig);

const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : '–');
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '–');
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '–');
const pp = (p: Percentiles, f = f0) => `${f(p.p50)} / ${f(p.p95)}`;
const cpu = (n: number | null) => (n === null ? '–' : f0(n));

/** The binlog archiver's step as its workflow runs it: one activity, one timer, two workflow tasks. */
const ARCHIVER = { eventsPerStep: 11, activitiesPerStep: 1, segmentSeconds: 5 };

export function renderClusterThroughput(r: ThroughputResult, date: string): string {
  const rate = (l: ThroughputLevel) => ({
    runs: l.runs / l.seconds,
    executions: (l.runs * l.perRun.executions) / l.seconds,
    activities: (l.runs * l.perRun.activities) / l.seconds,
    events: (l.runs * l.perRun.events) / l.seconds,
  });
  const best = (shape: string) =>
    r.levels.filter((l) => l.shape === shape).reduce((a, b) => (rate(b).activities > rate(a).activities ? b : a));
  const rows = r.levels.map((l) => {
    const x = rate(l);
    return `| ${l.shape} | ${l.concurrency} | ${f1(x.runs)} | ${f1(x.executions)} | **${f1(x.activities)}** | ${f0(x.events)} | ${pp(l.runSeconds, f2)} | ${pp(l.activityStartMs)} | ${pp(l.workflowTaskStartMs)} | ${[l.cpu.worker, l.cpu.client, l.cpu.server, l.cpu.postgres, l.cpu.others].map(cpu).join(' · ')} | ${f0(l.workerRssMiB)} | ${l.failed} |`;
  });
  const shapes = [...new Set(r.levels.map((l) => l.shape))];
  const top = shapes.map(best).reduce((a, b) => (rate(b).activities > rate(a).activities ? b : a));
  const A = rate(top).activities;
  const E = Math.max(...r.levels.map((l) => rate(l).events));
  const one = r.levels.find(
    (l) => l.shape === 'catalog' && l.concurrency === Math.min(...r.levels.map((x) => x.concurrency)),
  );
  const M = r.tier?.activities ?? NaN;
  const tierLine = (n: number) => `${n} clouds: ${f0((n * M) / A)} s`;
  const x200 = (200 * M) / A;
  const others = r.levels.reduce((s, l) => s + l.cpu.others, 0) / Math.max(1, r.levels.length);
  const archiverEventsPerCloud = ARCHIVER.eventsPerStep / ARCHIVER.segmentSeconds;
  const archiverActivitiesPerCloud = ARCHIVER.activitiesPerStep / ARCHIVER.segmentSeconds;
  const shareOf = (n: number) => f0((100 * n * archiverEventsPerCloud) / E);
  return [
    '<!-- cluster-throughput -->',
    '## 14. One worker on a production-shaped Temporal — orchestration throughput',
    '',
    `Measured ${date} by \`BENCH_CASES=throughput ./dev bench\` on the lab's Temporal cluster: server ${r.server.version} on PostgreSQL (${r.server.persistence}, visibility ${r.server.visibility}, ${r.server.historyShards ?? '?'} history shards), frontend on mutual TLS, osbackup's payload codec on. One osbackup worker process (\`osbackup worker\`, SDK defaults, \`MALLOC_ARENA_MAX=2\`); the bench client, the worker, the server and PostgreSQL share the machine's ${r.cores} cores, so every figure is a lower bound of what a cluster on its own hosts gives. C runs are kept in flight (a new one started as each ends) for ${f0(r.levels[0]?.seconds ?? NaN)} s after ${r.warmupSeconds} s of warm-up; the activities only read the worker's own empty repository, so the work measured is orchestration (starts, task dispatch, history writes, the codec).`,
    '',
    ...shapes.map((s) => `- ${s}: ${SHAPES[s as keyof typeof SHAPES].what}.`),
    '',
    '| runs | in flight | runs/s | executions/s | activities/s | history events/s | run s p50 / p95 | activity schedule-to-start ms p50 / p95 | workflow task schedule-to-start ms p50 / p95 | CPU %: worker · bench client · server · PostgreSQL · other processes | worker RSS MiB | failed |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `An activity schedule-to-start of 0 ms is eager dispatch: the worker asks for the activity with the workflow task that schedules it and gets it in the same reply, without a round through the task queue. CPU is % of one core over the window (the machine has ${r.cores * 100} %); other processes are whatever else ran on the machine meanwhile; executions count child workflows; per-run counts and schedule-to-start come from the histories of up to 120 runs a row. Worker RSS: ${f0(r.workerIdleRssMiB)} MiB idle after warm-up, peak (VmHWM) ${f0(r.workerPeakRssMiB)} MiB over the case.`,
    '',
    ...(r.tier
      ? [
          `A tier run for scale: the ${r.tier.tier} tier of the lab cloud (\`tierWorkflow\` → a full backup of ctl1 under its lease; no copy targets, each of which adds a copy workflow) is ${r.tier.executions} workflow executions, **${r.tier.activities} activities** and ${r.tier.events} history events; it took ${f1(r.tier.seconds)} s, nearly all of it the backup itself.`,
          '',
        ]
      : []),
    ...(others > 20
      ? [
          `Other work on the machine took ${f0(others)} % of one core on average during the windows: the figures are those of a cluster and worker with what was left of the ${r.cores} cores.`,
          '',
        ]
      : []),
    'What the figures mean for a site (one worker, one namespace):',
    '',
    `- **Orchestration per activity.** Alone, a one-activity run takes ${f0((one?.runSeconds.p50 ?? NaN) * 1000)} ms start to result, so a tier's ${f0(M)} activities in a row add about ${f1(M * (one?.runSeconds.p50 ?? NaN))} s of orchestration to a run whose data work takes minutes. Under load the worker completed at most **${f0(A)} activities/s** (${top.shape}, ${top.concurrency} in flight).`,
    `- **Where the limit is.** At that peak the machine was ${f0(top.cpu.machine)} % busy of ${r.cores * 100} %: the server ${cpu(top.cpu.server)} %, PostgreSQL ${cpu(top.cpu.postgres)} %, the worker ${f0(top.cpu.worker)} %. Per activity (with the workflow tasks around it) the worker spent ${f1((10 * top.cpu.worker) / A)} ms of CPU, the server and PostgreSQL ${f1((10 * ((top.cpu.server ?? NaN) + (top.cpu.postgres ?? NaN))) / A)} ms: with the cluster on hosts of its own, one core of the worker's host carries about ${f0((100 * A) / top.cpu.worker)} activities/s of orchestration, and the cluster is what to size for more.`,
    `- **A nightly tier across many clouds.** N clouds' tiers started in the same minute need about N × ${f0(M)} / ${f0(A)} s of pure orchestration in all — ${[10, 50, 200].map(tierLine).join(', ')} — ${
      x200 < 600
        ? "minutes at most, next to the tiers' data work (section 1): the bytes the hosts and links move bound a site's night, not Temporal."
        : 'orchestration alone then takes more than ten minutes: spread the schedules over the night, or split the clouds over more task queues and workers.'
    }`,
    `- **Binlog archivers.** One per cloud, a step every ${ARCHIVER.segmentSeconds} s (one activity, one timer, two workflow tasks: ${ARCHIVER.eventsPerStep} events, about what one catalog run writes): ${f2(archiverActivitiesPerCloud)} activities/s and ${f1(archiverEventsPerCloud)} history events/s per cloud. The cluster absorbed up to **${f0(E)} events/s** here: 10 clouds' archivers are ${shareOf(10)} % of that, 50 clouds ${shareOf(50)} %; the archivers' orchestration alone would fill it at about ${f0(E / archiverEventsPerCloud)} clouds (each step's own work, reading the binlogs over SSH, comes on top).`,
    `- **Schedules.** A schedule's action is one workflow start; even every tier of 50 clouds firing at the same minute is a few hundred starts, under ${f0((50 * 5) / rate(best('catalog')).runs)} s at the ${f1(rate(best('catalog')).runs)} runs/s measured.`,
    '<!-- /cluster-throughput -->',
    '',
  ].join('\n');
}
