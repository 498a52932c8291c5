// `osbackup restore service <name> --at …` and `osbackup restore approve|reject <workflow id>`:
// one service's schemas from a point in time, imported into the live database only after an
// operator has seen what will be imported.
import type { Command } from 'commander';
import { Option } from 'commander';
import { runWorkflowId } from '../core/ids.js';
import type { RestoreServiceResult, ServiceRestoreSummary } from '../workflows/restore-service.js';
import { CliError, connect, EXIT, startRun, waitWithProgress } from './connect.js';
import { askApproval } from './lib/approval.js';
import type { CliContext, G } from './control-plane.js';
import { utcTime } from './lib/utc-time.js';

export function describeSummary(s: ServiceRestoreSummary): string {
  const rows = s.tables.map((t) => `    ${t.table}: ${t.rows} rows`).join('\n');
  return (
    [
      `service ${s.service}: ${s.schemas.join(', ')} as of ${s.target} (end of that second, UTC)`,
      `  from    ${s.from.artifacts.join(' → ')}${s.from.segments ? ` + ${s.from.segments} binlog segments (${s.from.replayedTransactions} transactions replayed, last at ${s.from.lastEventAt ?? '-'})` : ''}`,
      `  via     ${s.via}: ${s.why}`,
      `  export  ${s.export.host}:${s.export.file} (${s.export.bytes} bytes, sha256 ${s.export.sha256})`,
      `  into    the live server on ${s.into}: ${s.schemas.join(', ')} dropped and recreated from the export; other schemas untouched`,
      `  tables  ${s.tables.length}`,
      rows,
    ]
      .filter(Boolean)
      .join('\n') + '\n'
  );
}

/**
 * Polls the summary query until what is to be approved is ready (a service restore's export, a
 * cluster restore's plan), or the workflow has ended: its result says why.
 */
export function registerServiceRestoreCommands(restore: Command, ctx: CliContext<G>): void {
  restore
    .command('service <service>')
    .description(
      "restore one service's schemas (clouds.<cloud>.services) to a point in time, then redeploy and check the service",
    )
    .requiredOption(
      '--at <UTC time>',
      'point in time (UTC, e.g. "2026-11-30 04:05:06"): the schemas as they were at the end of that second',
    )
    .addOption(
      new Option(
        '--via <source>',
        'dump: a logical dump (+ binlogs); scratch: a physical backup prepared in a scratch instance (+ binlogs). Default: a dump when one fits',
      ).choices(['dump', 'scratch']),
    )
    .option('--yes', 'import without asking once the export is ready')
    .option('--cloud <name>', 'cloud from the config (default: the only one)')
    .action(async function (this: Command, service: string) {
      const g = this.optsWithGlobals<G & { at: string; via?: 'dump' | 'scratch'; yes?: boolean }>();
      const config = ctx.load(g);
      const cloud = ctx.pickCloud(config, g.cloud);
      if (!config.clouds[cloud]!.services[service])
        throw new CliError(
          `service "${service}" is not under clouds.${cloud}.services (known: ${Object.keys(config.clouds[cloud]!.services).join(', ') || 'none'})`,
          EXIT.usage,
        );
      const at = utcTime(g.at);
      const { handle, link } = await startRun(config, {
        type: 'restoreServiceWorkflow',
        workflowId: runWorkflowId('restore-service', cloud, new Date(), service),
        input: {
          cloud,
          service,
          at,
          via: g.via,
          approved: !!g.yes,
          approvalTimeoutSeconds: Math.round(config.clouds[cloud]!.approvalTimeoutHours * 3600),
        },
        labels: { cloud, component: 'database', tier: 'restore' },
        quiet: !!g.json,
      });
      if (!g.yes)
        await askApproval<ServiceRestoreSummary>(
          handle,
          describeSummary,
          (s) => `import into the live database on ${s.into}?`,
        );
      const r = await waitWithProgress<RestoreServiceResult>(handle, !!g.json);
      const text =
        r.outcome === 'rejected'
          ? `rejected (${r.rejectReason}): the live database was not touched\n`
          : `restored ${r.summary.schemas.join(', ')} of ${service} on ${r.imported?.dbHost} to ${r.summary.target} in ${r.totalSeconds.toFixed(1)} s\n` +
            r.liveTables.map((t) => `  ${t.table}: ${t.rows} rows\n`).join('') +
            `  redeploy ${r.redeploy ? `${r.redeploy.argv0}: exit ${r.redeploy.exitCode}` : 'none configured'}; check ${r.check ? `${r.check.argv0}: exit ${r.check.exitCode}` : 'none configured'}\n` +
            `  safety dump of the live schemas before the import: ${r.safetyDump?.host}:${r.safetyDump?.file}\n`;
      ctx.out(g, { workflowId: handle.workflowId, ui: link, ...r }, text);
    });

  for (const [name, signal] of [
    ['approve', 'approve'],
    ['reject', 'reject'],
  ] as const) {
    restore
      .command(`${name} <workflowId>`)
      .description(
        `${name} a waiting service restore's import (osbackup restore service) or a waiting cluster restore (osbackup restore cluster)`,
      )
      .option('--reason <text>', 'why (reject)')
      .action(async function (this: Command, workflowId: string) {
        const g = this.optsWithGlobals<G & { reason?: string }>();
        const client = await connect(ctx.load(g));
        const handle = client.workflow.getHandle(workflowId);
        const s = await handle.query<unknown>('summary').catch((e: Error) => {
          throw new CliError(`${workflowId}: ${e.message}`, EXIT.usage);
        });
        if (!s)
          throw new CliError(
            `${workflowId} has not finished preparing what is to be approved (a service restore's export, a cluster restore's plan) yet: nothing to ${name}`,
            EXIT.usage,
          );
        await (signal === 'approve'
          ? handle.signal('approve')
          : handle.signal('reject', g.reason ?? 'rejected by an operator'));
        ctx.out(
          g,
          { workflowId, [signal === 'approve' ? 'approved' : 'rejected']: true },
          `${name === 'approve' ? 'approved' : 'rejected'} ${workflowId}\n`,
        );
      });
  }
}
