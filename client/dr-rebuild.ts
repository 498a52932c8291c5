// `osbackup dr rebuild | approve | reject | progress`: the full rebuild of a lost cloud
// (drRebuildWorkflow), its approval gates and where it is.
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { DrProgress, DrRebuildResult } from '../workflows/dr-rebuild.js';
import { drRebuildWorkflowId, isRunId } from '../core/dr/rebuild-plan.js';
import { compactUtc } from '../core/ids.js';
import { progressQuery } from '../workflows/messages.js';
import { CliError, connect, EXIT, showProgress, startRun, waitWithProgress } from './connect.js';
import type { CliContext, G } from './control-plane.js';
import { utcTime } from './lib/utc-time.js';

/** A workflow id, or a run id of the chosen cloud. */
function workflowIdOf(idOrRun: string, cloud: string): string {
  return idOrRun.startsWith('dr-rebuild:') ? idOrRun : drRebuildWorkflowId(cloud, idOrRun);
}

export function progressTable(p: DrProgress): string {
  const rows = p.steps.map(
    (s, i) =>
      `  ${String(i + 1).padStart(2)}/${p.steps.length} ${s.state.padEnd(7)} ${s.name.padEnd(20)} ${s.seconds !== undefined ? `${s.seconds.toFixed(1).padStart(7)} s` : '         '}  ${s.detail ?? ''}`,
  );
  return `phase: ${p.phase}\n${rows.join('\n')}\n`;
}

export function resultText(r: DrRebuildResult): string {
  const steps = r.steps
    .map((s) => `  ${s.result.padEnd(7)} ${s.name.padEnd(20)} ${s.seconds.toFixed(1).padStart(7)} s  ${s.detail ?? ''}`)
    .join('\n');
  if (r.outcome === 'rejected')
    return `rebuild ${r.runId} of ${r.cloud} STOPPED at ${r.stoppedAt} (rejected: ${r.rejectReason})\n  the cloud: ${r.cloudState}\n${steps}\n  resume later with: osbackup dr rebuild --cloud ${r.cloud} --run ${r.runId}\n`;
  return `rebuild ${r.runId} of ${r.cloud} completed in ${r.rtoSeconds?.toFixed(1)} s (RTO)\n${steps}\n  database ${r.database?.backupId ?? '-'} (${r.database?.verification ?? '-'})${r.database?.pitrTarget ? ` replayed to ${r.database.pitrTarget}` : ''}\n  token from the rebuilt Keystone: ${r.token ? `user ${r.token.userId}, catalog ${r.token.catalog.join(', ')}` : '-'}\n  record ${r.recordPath}\n`;
}

/** Under `osbackup dr` (shared with `dr drill`: whichever registers first creates it). */
export function registerDrRebuildCommands(program: Command, ctx: CliContext<G>): void {
  const dr =
    program.commands.find((c) => c.name() === 'dr') ??
    program.command('dr').description('disaster recovery: drills and rebuilds');

  dr.command('rebuild')
    .description(
      'rebuild the cloud from its backups: Kolla configs, bootstrap, MariaDB, the database at a point, services, Keystone keys, verify, volumes and images, user access',
    )
    .option('--cloud <name>', 'cloud from the config (default: the only one)')
    .option('--run <id>', 'run id; an existing one resumes that run, skipping its done steps (default: the UTC time)')
    .option(
      '--at <UTC time>',
      'database point in time (UTC, e.g. "2026-11-30 04:05:06"); default: the newest restore point',
    )
    .option('--backup <id>', 'database backup to restore (default: the newest intact restore point)')
    .option('--cp-backup <id>', 'control-plane backup for the configs and keys (default: the newest)')
    .option('--skip-resources', 'rebuild the control plane only: leave volumes and images alone')
    .option('--yes', 'approve both gates in advance (deploy; restoring the database over what the server holds)')
    .option('--no-wait', 'return once the workflow has started')
    .action(async function (this: Command) {
      const g = this.optsWithGlobals<
        G & {
          run?: string;
          at?: string;
          backup?: string;
          cpBackup?: string;
          skipResources?: boolean;
          yes?: boolean;
          wait: boolean;
        }
      >();
      const config = ctx.load(g);
      const cloud = ctx.pickCloud(config, g.cloud);
      if (g.at && g.backup) throw new CliError('give --at or --backup, not both', EXIT.usage);
      const runId = g.run ?? compactUtc(new Date());
      if (!isRunId(runId))
        throw new CliError(`--run "${runId}": use letters, digits, ".", "_" and "-" (at most 64)`, EXIT.usage);
      const dr = config.clouds[cloud]!.dr;
      if (dr && dr.runOn !== 'worker' && !config.clouds[cloud]!.hosts[dr.runOn])
        throw new CliError(
          `clouds.${cloud}.dr.runOn names host "${dr.runOn}", which is not under hosts`,
          EXIT.configInvalid,
        );
      const client = await connect(config);
      const workflowId = drRebuildWorkflowId(cloud, runId);
      // two rebuilds of one cloud would deploy over each other: one at a time
      for await (const w of client.workflow.list({
        query: `WorkflowType = 'drRebuildWorkflow' AND ExecutionStatus = 'Running' AND Cloud = '${cloud}'`,
      })) {
        if (w.workflowId !== workflowId)
          throw new CliError(
            `another rebuild of ${cloud} is running (${w.workflowId}): let it end, or cancel it first`,
            EXIT.usage,
          );
      }
      let started;
      try {
        started = await startRun(config, {
          type: 'drRebuildWorkflow',
          workflowId,
          input: {
            cloud,
            runId,
            at: g.at === undefined ? undefined : utcTime(g.at),
            backupId: g.backup,
            controlPlaneBackupId: g.cpBackup,
            approved: !!g.yes,
            skipResources: !!g.skipResources,
            approvalTimeoutSeconds: Math.round(config.clouds[cloud]!.approvalTimeoutHours * 3600),
          },
          labels: { cloud, component: 'cloud', tier: 'dr' },
          quiet: !!g.json,
        });
      } catch (e) {
        if (e instanceof WorkflowExecutionAlreadyStartedError)
          throw new CliError(
            `run ${runId} of ${cloud} is running already (${workflowId}): watch it with osbackup dr progress ${runId}`,
            EXIT.usage,
          );
        throw e;
      }
      const { handle, link } = started;
      if (!g.wait) return ctx.out(g, { workflowId: handle.workflowId, runId, ui: link }, `${handle.workflowId}\n`);
      // gates: on a terminal ask; elsewhere say how to decide, once per gate
      const asked = new Set<string>();
      const result = handle.result();
      const watcher = (async () => {
        for (let settled = false; !settled; ) {
          await Promise.race([
            result.then(
              () => (settled = true),
              () => (settled = true),
            ),
            new Promise((r) => setTimeout(r, 1000)),
          ]);
          const p = await handle.query(progressQuery).catch(() => null);
          const waitingGate = p?.steps.find((s) => s.state === 'running' && s.name.startsWith('approve-'));
          if (!waitingGate || asked.has(waitingGate.name) || settled) continue;
          asked.add(waitingGate.name);
          if (!process.stdin.isTTY || g.json) {
            process.stderr.write(
              `\nwaiting for approval (${waitingGate.name}): osbackup dr approve ${handle.workflowId}   (or: osbackup dr reject ${handle.workflowId} --reason …)\n`,
            );
            continue;
          }
          const rl = createInterface({ input: process.stdin, output: process.stderr });
          const answer = (
            await rl.question(
              `\n${waitingGate.name === 'approve-deploy' ? 'bootstrap the servers and deploy MariaDB' : 'restore the database over what the server holds'}? [y/N] `,
            )
          )
            .trim()
            .toLowerCase();
          rl.close();
          if (answer === 'y' || answer === 'yes') await handle.signal('approve', waitingGate.name);
          else await handle.signal('reject', 'declined at the prompt');
        }
      })();
      const r = await waitWithProgress<DrRebuildResult>(handle, !!g.json);
      await watcher;
      ctx.out(g, { ui: link, ...r }, resultText(r));
      if (r.outcome === 'rejected') process.exitCode = EXIT.failed;
    });

  for (const [name, signal] of [
    ['approve', 'approve'],
    ['reject', 'reject'],
  ] as const) {
    dr.command(`${name} <workflowIdOrRun>`)
      .description(
        name === 'approve'
          ? 'approve the gate a rebuild waits at (--gate: a named gate, also in advance)'
          : 'reject: the rebuild stops at the gate it waits at (or the next) and says where and in what state the cloud is',
      )
      .option('--cloud <name>', 'cloud of a run id (default: the only one)')
      .option(
        name === 'approve' ? '--gate <name>' : '--reason <text>',
        name === 'approve' ? 'approve-deploy or approve-database' : 'why',
      )
      .action(async function (this: Command, idOrRun: string) {
        const g = this.optsWithGlobals<G & { gate?: string; reason?: string }>();
        const config = ctx.load(g);
        const workflowId = workflowIdOf(idOrRun, ctx.pickCloud(config, g.cloud));
        const handle = (await connect(config)).workflow.getHandle(workflowId);
        const d = await handle.describe().catch((e: Error) => {
          throw new CliError(`${workflowId}: ${e.message}`, EXIT.usage);
        });
        if (d.status.name !== 'RUNNING')
          throw new CliError(`${workflowId} is ${d.status.name}: nothing to ${name}`, EXIT.usage);
        if (g.gate && g.gate !== 'approve-deploy' && g.gate !== 'approve-database')
          throw new CliError(`--gate ${g.gate}: use approve-deploy or approve-database`, EXIT.usage);
        await (signal === 'approve'
          ? handle.signal('approve', g.gate)
          : handle.signal('reject', g.reason ?? 'rejected by an operator'));
        ctx.out(
          g,
          { workflowId, [signal === 'approve' ? 'approved' : 'rejected']: true, gate: g.gate ?? null },
          `${name === 'approve' ? 'approved' : 'rejected'} ${workflowId}${g.gate ? ` (${g.gate})` : ''}\n`,
        );
      });
  }

  dr.command('progress <workflowIdOrRun>')
    .description('where a rebuild is: step n/m, names, timings, and the gate it waits at')
    .option('--cloud <name>', 'cloud of a run id (default: the only one)')
    .option('--watch', 'follow it until it ends')
    .action(async function (this: Command, idOrRun: string) {
      const g = this.optsWithGlobals<G & { watch?: boolean }>();
      const config = ctx.load(g);
      const workflowId = workflowIdOf(idOrRun, ctx.pickCloud(config, g.cloud));
      const handle = (await connect(config)).workflow.getHandle(workflowId);
      if (g.watch) await showProgress(handle, handle.result(), !!g.json);
      const p = await (handle.query(progressQuery) as Promise<DrProgress>).catch((e: Error) => {
        throw new CliError(`${workflowId}: ${e.message}`, EXIT.usage);
      });
      const status = (await handle.describe()).status.name;
      ctx.out(g, { workflowId, status, ...p }, `${workflowId} (${status})\n${progressTable(p)}`);
    });
}
