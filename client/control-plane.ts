// `osbackup backup control-plane` and `osbackup restore keys|config|rabbitmq`.
import type { Command } from 'commander';
import type { Config } from '../config/schema.js';
import { runWorkflowId } from '../core/ids.js';
import type { BackupControlPlaneResult } from '../workflows/backup-control-plane.js';
import type {
  RestoreConfigResult,
  RestoreKeysResult,
  RestoreRabbitmqResult,
} from '../workflows/restore-control-plane.js';
import { CliError, EXIT, startRun, waitWithProgress } from './connect.js';

export interface CliContext<G> {
  load(g: G): Config;
  pickCloud(config: Config, cloud?: string): string;
  out(g: G, json: unknown, text: string): void;
  version: string;
}

export type G = { json?: boolean; config?: string; cloud?: string };

/** Starts a workflow, prints its id and UI link, waits with progress, returns its result. */
export async function runWorkflow<R>(
  ctx: CliContext<G>,
  g: G,
  config: Config,
  type: string,
  workflowId: string,
  component: string,
  tier: string,
  args: unknown[],
): Promise<{ r: R; link: string; workflowId: string }> {
  const { handle, link } = await startRun(config, {
    type,
    workflowId,
    input: args[0],
    labels: { cloud: (args[0] as { cloud: string }).cloud, component, tier },
    quiet: !!g.json,
  });
  return { r: await waitWithProgress<R>(handle, !!g.json), link, workflowId: handle.workflowId };
}

/** A host of the cloud named on the command line, or a usage error listing the known ones. */
export function hostOf(config: Config, cloud: string, host: string): string {
  if (!config.clouds[cloud]!.hosts[host])
    throw new CliError(
      `host "${host}" is not under clouds.${cloud}.hosts (known: ${Object.keys(config.clouds[cloud]!.hosts).join(', ')})`,
      EXIT.usage,
    );
  return host;
}

export function registerControlPlaneCommands(backup: Command, restore: Command, ctx: CliContext<G>): void {
  backup
    .command('control-plane')
    .description(
      "back up the Kolla config tree, every Keystone host's Fernet/credential keys and the RabbitMQ definitions as one unit",
    )
    .option('--cloud <name>', 'cloud from the config (default: the only one)')
    .option('--tier <tier>', 'tier label', 'manual')
    .action(async function (this: Command) {
      const g = this.optsWithGlobals<G & { tier: string }>();
      const config = ctx.load(g);
      const cloud = ctx.pickCloud(config, g.cloud);
      const c = config.clouds[cloud]!;
      if (!c.controlPlane && !c.rabbitmq)
        throw new CliError(
          `cloud ${cloud} has no controlPlane or rabbitmq section: nothing to back up`,
          EXIT.configInvalid,
        );
      const configured = {
        kolla: !!c.controlPlane?.kolla,
        keystoneHosts: c.controlPlane?.keystoneHosts ?? [],
        rabbitmq: !!c.rabbitmq,
      };
      const { r, link, workflowId } = await runWorkflow<BackupControlPlaneResult>(
        ctx,
        g,
        config,
        'backupControlPlaneWorkflow',
        runWorkflowId('backup-cp', cloud, new Date()),
        'control-plane',
        g.tier,
        [{ cloud, tier: g.tier, toolVersion: ctx.version, configured }],
      );
      const parts = r.parts
        .map(
          (p) =>
            `  ${p.kind.padEnd(21)} ${p.host.padEnd(8)} ${p.files !== null ? `${p.files} files, ` : ''}${p.bytes} bytes, sha256 ${p.sha256}`,
        )
        .join('\n');
      ctx.out(
        g,
        { workflowId, ui: link, ...r },
        `control-plane backup ${r.backupId}\n${parts}\n${r.missing.length ? `  not present on the deploy host: ${r.missing.join(', ')}\n` : ''}${r.warnings.map((w) => `WARNING: ${w}\n`).join('')}  ${r.path}\n`,
      );
      if (r.warnings.length) process.exitCode = EXIT.failed;
    });

  restore
    .command('keys')
    .description('restore the Keystone Fernet and credential keys to every Keystone host (same set everywhere)')
    .option('--cloud <name>', 'cloud from the config (default: the only one)')
    .option('--backup <id>', 'control-plane backup id (default: the newest)')
    .option('--from <host>', 'whose key set to restore (needed when the backup recorded diverged keys)')
    .option('--to <hosts>', 'comma-separated Keystone hosts (default: controlPlane.keystoneHosts)')
    .action(async function (this: Command) {
      const g = this.optsWithGlobals<G & { backup?: string; from?: string; to?: string }>();
      const config = ctx.load(g);
      const cloud = ctx.pickCloud(config, g.cloud);
      const hosts = (g.to ? g.to.split(',') : (config.clouds[cloud]!.controlPlane?.keystoneHosts ?? [])).map((h) =>
        hostOf(config, cloud, h.trim()),
      );
      if (!hosts.length)
        throw new CliError(
          `no Keystone hosts: set clouds.${cloud}.controlPlane.keystoneHosts or pass --to`,
          EXIT.usage,
        );
      const { r, link, workflowId } = await runWorkflow<RestoreKeysResult>(
        ctx,
        g,
        config,
        'restoreKeystoneKeysWorkflow',
        runWorkflowId('restore-keys', cloud, new Date()),
        'keystone-keys',
        'restore',
        [{ cloud, backupId: g.backup, fromHost: g.from, hosts }],
      );
      ctx.out(
        g,
        { workflowId, ui: link, ...r },
        `restored ${r.fromHost}'s keys from ${r.backupId} to ${r.hosts.map((h) => `${h.host} (${h.files.length} keys)`).join(', ')}: byte-equal on every host\n`,
      );
    });

  restore
    .command('config')
    .description(
      'restore the Kolla config tree to a folder on a host (shows a diff first; never overwrites without --overwrite)',
    )
    .requiredOption('--to <host>', 'target host')
    .requiredOption('--path <dir>', 'target folder on that host (e.g. /etc/kolla)')
    .option('--cloud <name>', 'cloud from the config (default: the only one)')
    .option('--backup <id>', 'control-plane backup id (default: the newest)')
    .option('--dry-run', 'only show what would change', false)
    .option('--overwrite', 'replace files that differ (the folder is backed up first)', false)
    .action(async function (this: Command) {
      const g = this.optsWithGlobals<
        G & { to: string; path: string; backup?: string; dryRun: boolean; overwrite: boolean }
      >();
      const config = ctx.load(g);
      const cloud = ctx.pickCloud(config, g.cloud);
      if (!g.path.startsWith('/')) throw new CliError('--path must be absolute', EXIT.usage);
      const { r, link, workflowId } = await runWorkflow<RestoreConfigResult>(
        ctx,
        g,
        config,
        'restoreKollaConfigWorkflow',
        runWorkflowId('restore-config', cloud, new Date(), hostOf(config, cloud, g.to)),
        'kolla-config',
        'restore',
        [{ cloud, backupId: g.backup, targetHost: g.to, targetPath: g.path, dryRun: g.dryRun, overwrite: g.overwrite }],
      );
      const changes = r.changes
        .map(
          (c) =>
            `  ${c.change.padEnd(8)} ${c.path}  ${c.detail}${c.secret && c.change === 'content' ? ' (secret: content not shown)' : ''}`,
        )
        .join('\n');
      const patches = r.patches.map((p) => p.patch).join('');
      const head = r.dryRun
        ? `dry run: restoring ${r.backupId} to ${r.targetHost}:${r.targetPath} would make these changes (nothing changed):`
        : `restored ${r.backupId} to ${r.targetHost}:${r.targetPath}: ${r.restoredFiles} files equal to the backup${r.safetyCopy ? `; what was there is saved as ${r.safetyCopy}` : ''}`;
      ctx.out(
        g,
        { workflowId, ui: link, ...r },
        `${head}\n${changes || '  (no differences)'}\n${r.dryRun ? patches : ''}`,
      );
    });

  restore
    .command('rabbitmq')
    .description('import the RabbitMQ definitions into a broker and check they match')
    .requiredOption('--to <host>', 'host whose broker receives them')
    .option('--cloud <name>', 'cloud from the config (default: the only one)')
    .option('--backup <id>', 'control-plane backup id (default: the newest)')
    .action(async function (this: Command) {
      const g = this.optsWithGlobals<G & { to: string; backup?: string }>();
      const config = ctx.load(g);
      const cloud = ctx.pickCloud(config, g.cloud);
      const { r, link, workflowId } = await runWorkflow<RestoreRabbitmqResult>(
        ctx,
        g,
        config,
        'restoreRabbitmqWorkflow',
        runWorkflowId('restore-rabbitmq', cloud, new Date(), hostOf(config, cloud, g.to)),
        'rabbitmq',
        'restore',
        [{ cloud, backupId: g.backup, targetHost: g.to }],
      );
      ctx.out(
        g,
        { workflowId, ui: link, ...r },
        `imported ${r.backupId}'s definitions into ${r.targetHost}: ${Object.entries(r.summary)
          .map(([k, v]) => `${v} ${k}`)
          .join(
            ', ',
          )}; equal to the backup${r.extra.length ? ` (also on the target only: ${r.extra.map((x) => x.id).join(', ')})` : ''}\n`,
      );
    });
}
