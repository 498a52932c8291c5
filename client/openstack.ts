// `osbackup backup volumes|images|instances [--dry-run]`: the cloud-side resources of a cloud
// with an `openstack:` section. A run prints what it created and every resource that failed
// (exit 1 when any did); a dry run prints what would be done to each resource and why.
import type { Command } from 'commander';
import type { Config } from '../config/schema.js';
import { taskQueueOf } from '../config/task-queues.js';
import { runWorkflowId } from '../core/ids.js';
import type { DryRunKind, DryRunResult } from '../activities/openstack/dry-run.js';
import type {
  BackupVolumesResult,
  ExportImagesResult,
  ResourceFailure,
  SnapshotInstancesResult,
} from '../workflows/cloud-resources.js';
import { CliError, connect, EXIT } from './connect.js';
import { runWorkflow, type CliContext, type G } from './control-plane.js';

function openstackCloud(ctx: CliContext<G>, g: G): { config: Config; cloud: string } {
  const config = ctx.load(g);
  const cloud = ctx.pickCloud(config, g.cloud);
  if (!config.clouds[cloud]!.openstack)
    throw new CliError(
      `cloud ${cloud} has no openstack section: add clouds.${cloud}.openstack (cloudsYaml + cloud, or openrc)`,
      EXIT.configInvalid,
    );
  return { config, cloud };
}

const label = (id: string, name: string | null) => (name ? `${id} (${name})` : id);
const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

export function formatFailures(failed: ResourceFailure[]): string {
  return failed
    .map((f) => `  FAILED ${label(f.id, f.name)}${f.stage ? ` [${f.stage}]` : ''}: ${f.type}: ${f.error}\n`)
    .join('');
}

export function formatDryRun(r: DryRunResult): string {
  const what = { volumes: 'volume snapshots', images: 'image exports', instances: 'instance snapshots' }[r.kind];
  const acting = r.items.filter((i) => i.action !== 'skip').length;
  const lines = [
    `dry run, nothing created — ${what} of cloud ${r.cloud}: ${r.items.length} selected (${r.selection}), ${acting} to do, concurrency ${r.concurrency}`,
  ];
  for (const i of r.items) lines.push(`  ${i.action.padEnd(24)} ${label(i.id, i.name)}: ${i.reason}`);
  return lines.join('\n') + '\n';
}

async function dryRun(ctx: CliContext<G>, g: G, kind: DryRunKind): Promise<void> {
  const { config, cloud } = openstackCloud(ctx, g);
  const client = await connect(config);
  const r = (await client.workflow.execute('cloudResourcesDryRunWorkflow', {
    taskQueue: taskQueueOf(config, cloud),
    workflowId: runWorkflowId(`dry-run-${kind}`, cloud, new Date()),
    args: [{ cloud, kind }],
  })) as DryRunResult;
  ctx.out(g, r, formatDryRun(r));
}

export function registerOpenstackBackupCommands(backup: Command, ctx: CliContext<G>): void {
  backup
    .command('volumes')
    .description(
      'snapshot the selected Cinder volumes (clouds.<cloud>.openstack.volumes), optionally with a Cinder backup of each snapshot',
    )
    .option('--cloud <name>', 'cloud from the config (default: the only one)')
    .option('--dry-run', 'list the volumes a run would snapshot and why; create nothing')
    .option('--concurrency <n>', 'snapshots in flight at once (default: volumes.concurrency)', (v) => Number(v))
    .option('--cinder-backup', 'also a Cinder backup of each snapshot (default: volumes.cinderBackup)')
    .action(async function (this: Command) {
      const g = this.optsWithGlobals<G & { dryRun?: boolean; concurrency?: number; cinderBackup?: boolean }>();
      if (g.dryRun) return dryRun(ctx, g, 'volumes');
      const { config, cloud } = openstackCloud(ctx, g);
      if (g.concurrency !== undefined && !(Number.isInteger(g.concurrency) && g.concurrency >= 1))
        throw new CliError('--concurrency must be a positive integer', EXIT.usage);
      const { r, link, workflowId } = await runWorkflow<BackupVolumesResult>(
        ctx,
        g,
        config,
        'backupVolumesWorkflow',
        runWorkflowId('backup-volumes', cloud, new Date()),
        'volumes',
        'manual',
        [{ cloud, concurrency: g.concurrency, cinderBackup: g.cinderBackup ? true : undefined }],
      );
      const backups = r.snapshots.filter((x) => x.backup).length;
      const rows = r.snapshots
        .map(
          (x) =>
            `  ${x.volumeId} → snapshot ${x.snapshotId} ${x.name}${x.backup ? ` + backup ${x.backup.backupId}` : ''} (${((x.availableAt - x.requestedAt) / 1000).toFixed(1)} s${x.reused ? ', adopted from an earlier attempt' : ''})\n`,
        )
        .join('');
      ctx.out(
        g,
        { workflowId, ui: link, ...r },
        `volume snapshots of ${cloud}: ${r.selected} selected, ${r.snapshots.length} taken${r.cinderBackup ? `, ${backups} Cinder backups` : ''}, ${r.failed.length} failed (concurrency ${r.concurrency}, at most ${r.maxInFlight} in flight)\n${rows}${formatFailures(r.failed)}`,
      );
      if (r.failed.length) process.exitCode = EXIT.failed;
    });

  backup
    .command('images')
    .description(
      'export the selected Glance images into the repository (clouds.<cloud>.openstack.images); one already exported with the same hash is skipped',
    )
    .option('--cloud <name>', 'cloud from the config (default: the only one)')
    .option('--dry-run', 'list the images a run would export or skip and why; export nothing')
    .option('--image <id...>', 'only these images (of the selection)')
    .action(async function (this: Command) {
      const g = this.optsWithGlobals<G & { dryRun?: boolean; image?: string[] }>();
      if (g.dryRun) return dryRun(ctx, g, 'images');
      const { config, cloud } = openstackCloud(ctx, g);
      const { r, link, workflowId } = await runWorkflow<ExportImagesResult>(
        ctx,
        g,
        config,
        'exportImagesWorkflow',
        runWorkflowId('export-images', cloud, new Date()),
        'images',
        'manual',
        [{ cloud, imageIds: g.image }],
      );
      const rows = [
        ...r.exported.map(
          (x) =>
            `  exported ${x.imageId}: ${mb(x.plainBytes)} → ${mb(x.bytes)} in ${x.seconds.toFixed(1)} s, sha512 ${x.sha512.slice(0, 16)}… = os_hash_value\n    ${x.path}\n`,
        ),
        ...r.skipped.map((x) => `  skipped  ${x.imageId}: ${x.reason}\n`),
      ].join('');
      ctx.out(
        g,
        { workflowId, ui: link, ...r },
        `image exports of ${cloud}: ${r.selected} selected, ${r.exported.length} exported, ${r.skipped.length} skipped, ${r.failed.length} failed\n${rows}${formatFailures(r.failed)}`,
      );
      if (r.failed.length) process.exitCode = EXIT.failed;
    });

  backup
    .command('instances')
    .description(
      'snapshot the selected Nova servers (createImage; clouds.<cloud>.openstack.instances), optionally exporting each snapshot image',
    )
    .option('--cloud <name>', 'cloud from the config (default: the only one)')
    .option('--dry-run', 'list the servers a run would snapshot or skip and why; create nothing')
    .option('--server <id...>', 'only these servers (of the selection)')
    .option('--export', 'also export each snapshot image into the repository')
    .action(async function (this: Command) {
      const g = this.optsWithGlobals<G & { dryRun?: boolean; server?: string[]; export?: boolean }>();
      if (g.dryRun) return dryRun(ctx, g, 'instances');
      const { config, cloud } = openstackCloud(ctx, g);
      const { r, link, workflowId } = await runWorkflow<SnapshotInstancesResult>(
        ctx,
        g,
        config,
        'snapshotInstancesWorkflow',
        runWorkflowId('snapshot-instances', cloud, new Date()),
        'instances',
        'manual',
        [{ cloud, serverIds: g.server, export: !!g.export }],
      );
      const rows = r.snapshots
        .map(
          (x) =>
            `  ${x.serverId} → image ${x.imageId} ${x.name} (${x.seconds.toFixed(1)} s)${x.export ? `, ${x.export.skipped ? 'export skipped' : `exported ${mb(x.export.bytes)} to ${x.export.path}`}` : ''}\n`,
        )
        .join('');
      ctx.out(
        g,
        { workflowId, ui: link, ...r },
        `instance snapshots of ${cloud}: ${r.selected} selected, ${r.snapshots.length} taken, ${r.failed.length} failed\n${rows}${formatFailures(r.failed)}`,
      );
      if (r.failed.length) process.exitCode = EXIT.failed;
    });
}
