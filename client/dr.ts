// `osbackup dr drill` (start a DR drill, optionally wait for its verdict) and the recovery part
// of `osbackup status` (restore points, RPO, the last drill, chains, the binlog archiver).
import type { Command } from 'commander';
import type { Client } from '@temporalio/client';
import type { Config } from '../config/schema.js';
import { taskQueueOf } from '../config/task-queues.js';
import { pitrArchiveWorkflowId } from '../core/pitr/segments.js';
import type { DrillRecord } from '../core/dr/record.js';
import { runWorkflowId } from '../core/ids.js';
import { recoveryStatus, recoveryStatusText, type ArchiverFacts, type RecoveryStatus } from '../core/status/status.js';
import type { PitrArchiveStatus } from '../workflows/pitr-archive.js';
import type { DrDrillResult } from '../workflows/dr-drill.js';
import { catalogListing } from './catalog-pages.js';
import { CliError, connect, EXIT, startRun, waitWithProgress } from './connect.js';
import type { CliContext, G } from './control-plane.js';

/** One line per step and check, the objectives and the verdict. */
export function drillText(r: DrillRecord, paths?: { recordPath: string; reportPath: string }): string {
  const t = (n: number | null) => (n === null ? 'none' : `${n} s`);
  return (
    [
      `drill ${r.id} of cloud ${r.cloud}: ${r.result.toUpperCase()}`,
      `  restore point ${r.restorePoint.id} (${r.restorePoint.verification}, consistent at ${r.restorePoint.completedAt})`,
      ...r.steps.map(
        (s) => `  ${s.result.padEnd(7)} ${s.name.padEnd(17)} ${s.seconds.toFixed(1).padStart(7)} s  ${s.detail ?? ''}`,
      ),
      ...r.checks.map(
        (c) => `  ${c.ok ? 'ok     ' : 'FAILED '} ${c.name}: ${c.actual ?? '-'} (expected ${c.expected ?? '-'})`,
      ),
      `  RTO ${r.rtoSeconds.toFixed(1)} s (target ${t(r.targets.rtoSeconds)}) · RPO ${r.rpoSeconds === null ? '-' : `${r.rpoSeconds.toFixed(1)} s`} (target ${t(r.targets.rpoSeconds)})`,
      ...r.breaches.map((b) => `  BREACH: ${b}`),
      ...(paths ? [`  ${paths.recordPath}`, `  ${paths.reportPath}`] : []),
    ].join('\n') + '\n'
  );
}

/** The archiver of the cloud, if one is running: its caught-up time, the RPO it achieves now. */
async function archiverFacts(client: Client, cloud: string, now: number): Promise<ArchiverFacts | null> {
  const handle = client.workflow.getHandle(pitrArchiveWorkflowId(cloud));
  try {
    const d = await handle.describe();
    if (d.status.name !== 'RUNNING') return null;
    const s = await handle.query<PitrArchiveStatus>('status');
    return {
      running: true,
      caughtUpAt: s.caughtUpAt,
      achievedRpoSeconds: s.caughtUpAt ? Math.max(0, (now - Date.parse(s.caughtUpAt)) / 1000) : null,
    };
  } catch {
    return null; // never started (not found) or not answering: not running
  }
}

/** Gathers the facts through the worker (catalog, drill records) and the archiver, then judges them. */
export async function recoveryStatusOf(config: Config, cloud: string, client?: Client): Promise<RecoveryStatus> {
  const c = client ?? (await connect(config));
  const q = { taskQueue: taskQueueOf(config, cloud) };
  const [listing, drills] = await Promise.all([
    catalogListing(c, config, { cloud, target: config.repository.name }, { idPrefix: `catalog-list:${cloud}` }),
    c.workflow.execute('drillRecordsWorkflow', {
      ...q,
      workflowId: `drill-records:${cloud}:${Date.now()}`,
      args: [{ cloud }],
    }) as Promise<DrillRecord[]>,
  ]);
  const now = Date.now();
  const cc = config.clouds[cloud]!;
  const d = cc.drill;
  return recoveryStatus({
    cloud,
    now: new Date(now).toISOString(),
    rows: listing.rows,
    drills,
    archiver: await archiverFacts(c, cloud, now),
    binlogRpoTargetSeconds: cc.database.binlog.rpoTargetSeconds,
    drill: d
      ? {
          rtoTargetSeconds: d.rtoTargetSeconds ?? null,
          rpoTargetSeconds: d.rpoTargetSeconds ?? null,
          schedule: { enabled: d.schedule.enabled, calendar: d.schedule.calendar },
        }
      : null,
  });
}

export { recoveryStatusText };

export function registerDrCommands(program: Command, ctx: CliContext<G>): void {
  const dr = program.command('dr').description('disaster recovery: drills (and rebuilds)');
  dr.command('drill')
    .description(
      "restore the newest VERIFIED restore point onto the cloud's drill host, check it, measure RTO and RPO against the targets, record drill.json + REPORT.md; a breach fails the drill",
    )
    .option('--cloud <name>', 'cloud from the config (default: the only one)')
    .option('--wait', 'wait for the verdict, showing progress (exit 1 when the drill fails)', false)
    .action(async function (this: Command) {
      const g = this.optsWithGlobals<G & { wait: boolean }>();
      const config = ctx.load(g);
      const cloud = ctx.pickCloud(config, g.cloud);
      const d = config.clouds[cloud]!.drill;
      if (!d)
        throw new CliError(
          `cloud ${cloud} has no drill section: add clouds.${cloud}.drill with host: <an isolated host with a mariadb section> (see docs/drills-and-status.md)`,
          EXIT.configInvalid,
        );
      const { handle, link } = await startRun(config, {
        type: 'drDrillWorkflow',
        workflowId: runWorkflowId('dr-drill', cloud, new Date()),
        input: { cloud },
        labels: { cloud, component: 'database', tier: 'drill' },
        quiet: !!g.json,
      });
      if (!g.wait)
        return ctx.out(
          g,
          { workflowId: handle.workflowId, runId: handle.firstExecutionRunId, ui: link },
          `${handle.workflowId}\n`,
        );
      const r = await waitWithProgress<DrDrillResult>(handle, !!g.json);
      ctx.out(g, { workflowId: handle.workflowId, ui: link, ...r }, drillText(r.record, r));
    });
}
