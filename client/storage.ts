// `osbackup copy` and `osbackup retention plan|apply|approve`: the storage-side runbooks.
import type { Command } from 'commander';
import type { Config } from '../config/schema.js';
import { taskQueueOf } from '../config/task-queues.js';
import { runWorkflowId } from '../core/ids.js';
import type { CopyTargetResult } from '../workflows/copy.js';
import type { RetentionPlanResult, RetentionTargetResult } from '../workflows/retention.js';
import type { CloudRetentionView } from '../activities/openstack/retention.js';
import { CliError, connect, EXIT } from './connect.js';
import { runWorkflow, type CliContext, type G } from './control-plane.js';

/** The name, when the config has such a target (the repository or one under `targets`). */
export function targetOf(config: Config, name: string): string {
  const known = [config.repository.name, ...Object.keys(config.targets)];
  if (!known.includes(name))
    throw new CliError(`target "${name}" is not configured (known: ${known.join(', ')})`, EXIT.usage);
  return name;
}

export function formatPlan(results: RetentionPlanResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`target ${r.target} (${r.location}): keep ${r.plan.keep.length}, remove ${r.plan.remove.length}`);
    for (const k of r.plan.keep)
      lines.push(`  keep    ${k.id.padEnd(34)} ${k.kind.padEnd(11)} ${k.reasons.join('; ')}`);
    for (const d of r.plan.remove) lines.push(`  REMOVE  ${d.id.padEnd(34)} ${d.kind.padEnd(11)} ${d.reason}`);
    for (const p of r.plan.problems) lines.push(`  problem ${p.kind}${p.id ? ` ${p.id}` : ''}: ${p.message}`);
  }
  return lines.join('\n') + '\n';
}

export function formatCloudPlan(v: CloudRetentionView): string {
  const lines = [
    `cloud ${v.cloud} (osbackup's own snapshots, backups, instance images; image exports): keep ${v.plan.keep.length + v.exports.keep.length}, remove ${v.plan.remove.length + v.exports.remove.length}, not osbackup's (never touched) ${v.plan.foreign}`,
  ];
  for (const k of v.plan.keep) lines.push(`  keep    ${k.kind.padEnd(15)} ${k.id} of ${k.source}: ${k.reason}`);
  for (const k of v.exports.keep) lines.push(`  keep    ${'image export'.padEnd(15)} ${k.id}: ${k.reason}`);
  for (const d of v.plan.remove) lines.push(`  REMOVE  ${d.kind.padEnd(15)} ${d.id} of ${d.source}: ${d.reason}`);
  for (const d of v.exports.remove) lines.push(`  REMOVE  ${'image export'.padEnd(15)} ${d.id}: ${d.reason}`);
  return lines.join('\n') + '\n';
}

export function registerStorageCommands(program: Command, ctx: CliContext<G>): void {
  program
    .command('copy')
    .description('copy artifacts between targets (whole chains, parents first, hashes checked, manifest last)')
    .requiredOption('--to <target...>', 'destination target(s)')
    .option('--from <target>', 'source target (default: the repository)')
    .option('--id <id...>', 'restore points / artifacts to copy (each with its chain)')
    .option('--all', 'everything the source holds')
    .option('--cloud <name>', 'cloud from the config (default: the only one)')
    .action(async function (this: Command) {
      const g = this.optsWithGlobals<G & { to: string[]; from?: string; id?: string[]; all?: boolean }>();
      const config = ctx.load(g);
      const cloud = ctx.pickCloud(config, g.cloud);
      if (!g.all && !g.id?.length) throw new CliError('name what to copy: --id <id...> or --all', EXIT.usage);
      const from = targetOf(config, g.from ?? config.repository.name);
      const to = g.to.map((t) => targetOf(config, t));
      const { r, link, workflowId } = await runWorkflow<CopyTargetResult[]>(
        ctx,
        g,
        config,
        'copyWorkflow',
        runWorkflowId('copy', cloud, new Date()),
        'copy',
        'manual',
        [{ cloud, from, to, ids: g.id, all: g.all }],
      );
      const text = r
        .map(
          (t) =>
            `${t.target}: ${t.copied.length} copied (${(t.bytes / 1e6).toFixed(1)} MB in ${t.seconds.toFixed(1)} s), ${t.present.length} already there${t.copied.length ? `\n  ${t.copied.join('\n  ')}` : ''}`,
        )
        .join('\n');
      ctx.out(g, { workflowId, ui: link, targets: r }, text + '\n');
    });

  const retention = program
    .command('retention')
    .description('chain-safe retention per target (daily / weekly / monthly)');
  retention
    .command('plan')
    .description('dry run: what each target would keep and remove, and why')
    .option('--target <name>', 'one target (default: all)')
    .option('--cloud <name>', 'cloud from the config (default: the only one)')
    .action(async function (this: Command) {
      const g = this.optsWithGlobals<G & { target?: string }>();
      const config = ctx.load(g);
      const cloud = ctx.pickCloud(config, g.cloud);
      if (g.target) targetOf(config, g.target);
      const client = await connect(config);
      const r = (await client.workflow.execute('retentionPlanWorkflow', {
        taskQueue: taskQueueOf(config, cloud),
        workflowId: `retention-plan:${cloud}:${Date.now()}`,
        args: [{ cloud, target: g.target }],
      })) as RetentionPlanResult[];
      // the cloud side (its own snapshots, backups, images; image exports) when every target is planned
      const cloudSide =
        !g.target && config.clouds[cloud]!.openstack
          ? ((await client.workflow.execute('cloudRetentionPlanWorkflow', {
              taskQueue: taskQueueOf(config, cloud),
              workflowId: `retention-plan-cloud:${cloud}:${Date.now()}`,
              args: [{ cloud }],
            })) as CloudRetentionView | null)
          : null;
      ctx.out(
        g,
        cloudSide ? { targets: r, cloud: cloudSide } : r,
        formatPlan(r) + (cloudSide ? formatCloudPlan(cloudSide) : ''),
      );
    });

  retention
    .command('apply')
    .description('mark, re-check and purge what the plan removes (a crash in between loses nothing)')
    .option('--target <name>', 'one target (default: all)')
    .option('--review', 'stop after marking until `osbackup retention approve <workflow id>`')
    .option('--cloud <name>', 'cloud from the config (default: the only one)')
    .action(async function (this: Command) {
      const g = this.optsWithGlobals<G & { target?: string; review?: boolean }>();
      const config = ctx.load(g);
      const cloud = ctx.pickCloud(config, g.cloud);
      if (g.target) targetOf(config, g.target);
      const { r, link, workflowId } = await runWorkflow<RetentionTargetResult[]>(
        ctx,
        g,
        config,
        'retentionWorkflow',
        runWorkflowId('rotate', cloud, new Date()),
        'retention',
        'manual',
        [{ cloud, target: g.target, review: g.review }],
      );
      const text = r
        .map(
          (t) =>
            `${t.target}: ${t.purged.length} removed (${(t.bytesFreed / 1e6).toFixed(1)} MB freed), ${t.retained} retained${t.finishedEarlierRuns.length ? `, finished interrupted runs ${t.finishedEarlierRuns.join(', ')}` : ''}${t.purged.length ? `\n  ${t.purged.join('\n  ')}` : ''}${(t.refused ?? []).map((x) => `\n  left alone: ${x.reason}`).join('')}`,
        )
        .join('\n');
      ctx.out(g, { workflowId, ui: link, targets: r }, text + '\n');
    });

  retention
    .command('approve <workflowId>')
    .description('let a `retention apply --review` run purge what it marked')
    .action(async function (this: Command, workflowId: string) {
      const g = this.optsWithGlobals<G>();
      const config = ctx.load(g);
      const client = await connect(config);
      await client.workflow.getHandle(workflowId).signal('approvePurge');
      ctx.out(g, { workflowId, approved: true }, `approved ${workflowId}\n`);
    });
}
