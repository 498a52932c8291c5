// `osbackup restore volume|image|server`: cloud resources back from osbackup's snapshots, Cinder
// backups and image exports (workflows/restore-cloud-resources.ts).
import type { Command } from 'commander';
import type { Config } from '../config/schema.js';
import { runWorkflowId } from '../core/ids.js';
import type { RestoreServerResult, RestoreVolumeResult } from '../workflows/restore-cloud-resources.js';
import type { ImageFromExportResult } from '../activities/openstack/restore-images.js';
import { CliError, EXIT } from './connect.js';
import { runWorkflow, type CliContext, type G } from './control-plane.js';

function openstackOf(config: Config, cloud: string) {
  const o = config.clouds[cloud]!.openstack;
  if (!o) throw new CliError(`cloud ${cloud} has no openstack section: nothing to restore into`, EXIT.configInvalid);
  return o;
}

const minutes = (v: string) => {
  const n = Number(v);
  if (!(n > 0)) throw new CliError(`--stuck-after takes minutes (a positive number), not "${v}"`, EXIT.usage);
  return n;
};

export function registerCloudRestoreCommands(restore: Command, ctx: CliContext<G>): void {
  restore
    .command('volume')
    .description(
      "a new Cinder volume from a snapshot (named, or osbackup's newest of a volume at or before a date) or from a Cinder backup",
    )
    .option('--cloud <name>', 'cloud from the config (default: the only one)')
    .option('--snapshot <id|name>', 'the snapshot to restore')
    .option('--volume <id>', "the source volume: restore osbackup's newest snapshot of it")
    .option('--at <date>', 'with --volume: the newest snapshot taken at or before this date (ISO)')
    .option('--backup <id>', 'a Cinder backup, restored with the backup restore API')
    .option('--name <name>', 'name of the new volume (default: restored-<source>-<yyyymmdd>)')
    .option(
      '--stuck-after <minutes>',
      'report the volume as stuck after this long (default: openstack.volumes.stuckAfterMinutes)',
      minutes,
    )
    .action(async function (this: Command) {
      const g = this.optsWithGlobals<
        G & { snapshot?: string; volume?: string; at?: string; backup?: string; name?: string; stuckAfter?: number }
      >();
      const config = ctx.load(g);
      const cloud = ctx.pickCloud(config, g.cloud);
      const os = openstackOf(config, cloud);
      if ([g.snapshot, g.volume, g.backup].filter(Boolean).length !== 1)
        throw new CliError('name exactly one of --snapshot, --volume (with an optional --at), --backup', EXIT.usage);
      if (g.at && !g.volume) throw new CliError('--at goes with --volume', EXIT.usage);
      if (g.at && Number.isNaN(Date.parse(g.at)))
        throw new CliError(`--at "${g.at}" is not a date (2026-11-30 or 2026-11-30T06:00:00Z)`, EXIT.usage);
      const args = {
        cloud,
        snapshot: g.snapshot,
        volumeId: g.volume,
        at: g.at,
        backupId: g.backup,
        name: g.name,
        stuckAfterSeconds: Math.round((g.stuckAfter ?? os.volumes.stuckAfterMinutes) * 60),
      };
      const { r, link, workflowId } = await runWorkflow<RestoreVolumeResult>(
        ctx,
        g,
        config,
        'restoreVolumeWorkflow',
        runWorkflowId('restore-volume', cloud, new Date()),
        'volume',
        'restore',
        [args],
      );
      const from =
        r.from.kind === 'snapshot'
          ? `snapshot ${r.from.snapshotId} of volume ${r.from.sourceVolumeId} (taken ${r.from.takenAt})`
          : `Cinder backup ${r.from.backupId} of volume ${r.from.sourceVolumeId}`;
      ctx.out(
        g,
        { workflowId, ui: link, ...r },
        `volume ${r.name} (${r.volumeId}, ${r.sizeGiB} GiB) ${r.status}, restored from ${from} in ${r.seconds.toFixed(1)} s${r.adopted ? ' (found from an earlier attempt of this run)' : ''}\n`,
      );
    });

  restore
    .command('image')
    .description(
      're-import an exported image into Glance: decrypted, decompressed and SHA-512-checked against its os_hash_value before Glance activates it, with its properties',
    )
    .argument('<export>', 'the export id (the exported image id: clouds/<cloud>/image/<id>/)')
    .option('--cloud <name>', 'cloud from the config (default: the only one)')
    .option('--name <name>', 'name of the new image (default: the recorded name)')
    .option('--visibility <visibility>', 'public, private, shared or community (default: the recorded one)')
    .action(async function (this: Command, exportId: string) {
      const g = this.optsWithGlobals<G & { name?: string; visibility?: string }>();
      const config = ctx.load(g);
      const cloud = ctx.pickCloud(config, g.cloud);
      openstackOf(config, cloud);
      if (g.visibility && !['public', 'private', 'shared', 'community'].includes(g.visibility))
        throw new CliError(
          `--visibility is one of public, private, shared, community (not "${g.visibility}")`,
          EXIT.usage,
        );
      const { r, link, workflowId } = await runWorkflow<ImageFromExportResult & { cloud: string }>(
        ctx,
        g,
        config,
        'restoreImageWorkflow',
        runWorkflowId('restore-image', cloud, new Date()),
        'image',
        'restore',
        [{ cloud, exportId, name: g.name, visibility: g.visibility }],
      );
      const skipped = r.skipped.map((x) => `  not restored: ${x.key} (${x.reason})\n`).join('');
      ctx.out(
        g,
        { workflowId, ui: link, ...r },
        `image ${r.name} (${r.imageId}) active: ${r.bytes} bytes re-imported from export ${r.exportId} in ${r.seconds.toFixed(1)} s, os_hash_value ${r.osHashValue} (checked)\n${skipped}`,
      );
    });

  restore
    .command('server')
    .description('boot a server from an instance snapshot in Glance, or from an image export (re-imported first)')
    .option('--cloud <name>', 'cloud from the config (default: the only one)')
    .option('--snapshot <image id>', 'the instance snapshot (any active image)')
    .option('--export <id>', 'an image export in the repository: re-import it, then boot it')
    .option('--flavor <id|name>', "default: the smallest flavor that meets the image's min_ram/min_disk")
    .option(
      '--network <id...>',
      'network ids for its ports, or "none" / "auto" (default auto, as openstack server create)',
    )
    .option('--name <name>', 'server name (default: <original server>-restored, or restored-<image name>)')
    .option(
      '--stuck-after <minutes>',
      'report the server as stuck after this long (default: openstack.instances.stuckAfterMinutes)',
      minutes,
    )
    .action(async function (this: Command) {
      const g = this.optsWithGlobals<
        G & {
          snapshot?: string;
          export?: string;
          flavor?: string;
          network?: string[];
          name?: string;
          stuckAfter?: number;
        }
      >();
      const config = ctx.load(g);
      const cloud = ctx.pickCloud(config, g.cloud);
      const os = openstackOf(config, cloud);
      if (!g.snapshot === !g.export)
        throw new CliError('name exactly one of --snapshot <image id>, --export <export id>', EXIT.usage);
      const args = {
        cloud,
        imageId: g.snapshot,
        exportId: g.export,
        flavor: g.flavor,
        networks: g.network,
        name: g.name,
        stuckAfterSeconds: Math.round((g.stuckAfter ?? os.instances.stuckAfterMinutes) * 60),
      };
      const { r, link, workflowId } = await runWorkflow<RestoreServerResult>(
        ctx,
        g,
        config,
        'restoreServerWorkflow',
        runWorkflowId('restore-server', cloud, new Date()),
        'server',
        'restore',
        [args],
      );
      const re = r.reimported
        ? `image ${r.reimported.name} (${r.reimported.imageId}) re-imported from export ${r.reimported.exportId}, os_hash_value checked\n`
        : '';
      ctx.out(
        g,
        { workflowId, ui: link, ...r },
        `${re}server ${r.name} (${r.serverId}) ${r.status} from image ${r.imageId}, flavor ${r.flavor}, in ${r.seconds.toFixed(1)} s${r.adopted ? ' (found from an earlier attempt of this run)' : ''}\n`,
      );
    });
}
