// `osbackup import kolla` and `osbackup import seed`: backups osbackup did not take become
// ordinary (imported) catalog entries. Exit 1 when any original was not imported.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../config/schema.js';
import { runWorkflowId } from '../core/ids.js';
import type { ImportResult } from '../workflows/import-backups.js';
import { CliError, EXIT, startRun, waitWithProgress } from './connect.js';
import { hostOf, type CliContext } from './control-plane.js';

type G = { json?: boolean; config?: string; cloud?: string };

async function run(
  ctx: CliContext<G>,
  g: G,
  config: Config,
  type: string,
  workflowId: string,
  args: Record<string, unknown> & { cloud: string },
): Promise<void> {
  const { handle, link } = await startRun(config, {
    type,
    workflowId,
    input: args,
    labels: { cloud: args.cloud, component: 'database', tier: 'import' },
    quiet: !!g.json,
  });
  const r = await waitWithProgress<ImportResult>(handle, !!g.json);
  ctx.out(g, { workflowId: handle.workflowId, ui: link, ...r }, resultText(r));
  if (r.problems.length) process.exitCode = EXIT.failed;
}

export function resultText(r: ImportResult): string {
  const lines = [
    `imported ${r.imported.length} backup(s) from ${r.host} into cloud ${r.cloud} (${r.source}); ${r.already.length} already imported; ${r.problems.length} not imported`,
  ];
  for (const i of r.imported)
    lines.push(
      `  imported  ${i.original} → ${i.id}${i.parentId ? ` (on ${i.parentId})` : ''}, LSN ${i.toLsn}, ${i.bytes} bytes stored`,
    );
  for (const a of r.already) lines.push(`  already   ${a.original} = ${a.id}`);
  for (const p of r.problems) lines.push(`  NOT IMPORTED ${p.original}: [${p.type}] ${p.reason}`);
  return lines.join('\n') + '\n';
}

export function registerImportCommands(program: Command, ctx: CliContext<G>): void {
  const imp =
    program.commands.find((c) => c.name() === 'import') ??
    program.command('import').description("bring foreign artifacts into osbackup's format");
  imp
    .command('kolla')
    .description(
      "import Kolla-Ansible's mariadb_backup files (full and incremental .qp.xbc.xbs.gz) as osbackup artifacts, oldest first; already imported ones are skipped",
    )
    .requiredOption('--host <host>', 'the host holding the mariadb_backup volume (from the config)')
    .requiredOption(
      '--dir <folder>',
      "the volume's folder on that host (e.g. /var/lib/docker/volumes/mariadb_backup/_data)",
    )
    .option('--cloud <name>', 'cloud from the config (default: the only one)')
    .action(async function (this: Command) {
      const g = this.optsWithGlobals<G & { host: string; dir: string }>();
      const config = ctx.load(g);
      const cloud = ctx.pickCloud(config, g.cloud);
      if (!g.dir.startsWith('/')) throw new CliError('--dir must be absolute', EXIT.usage);
      await run(
        ctx,
        g,
        config,
        'importKollaBackupsWorkflow',
        runWorkflowId('import-kolla', cloud, new Date(), hostOf(config, cloud, g.host)),
        { cloud, host: g.host, dir: g.dir, toolVersion: ctx.version },
      );
    });

  imp
    .command('seed')
    .description(
      "import the database backups the seed's scripts listed in their catalog.csv (mariabackup folders, .gz xbstreams, openssl enc files)",
    )
    .requiredOption('--catalog <path>', 'catalog.csv on the host (e.g. /opt/openstack-backups/catalog.csv)')
    .option('--host <host>', "where the catalog and the backups are (default: the cloud's database host)")
    .option(
      '--passphrase-file <path>',
      'for openssl-encrypted entries: the passphrase the seed used (a file on the worker)',
    )
    .option('--cloud <name>', 'cloud from the config (default: the only one)')
    .action(async function (this: Command) {
      const g = this.optsWithGlobals<G & { catalog: string; host?: string; passphraseFile?: string }>();
      const config = ctx.load(g);
      const cloud = ctx.pickCloud(config, g.cloud);
      const host = hostOf(config, cloud, g.host ?? config.clouds[cloud]!.database.host);
      if (!g.catalog.startsWith('/')) throw new CliError('--catalog must be absolute', EXIT.usage);
      await run(ctx, g, config, 'importSeedBackupsWorkflow', runWorkflowId('import-seed', cloud, new Date(), host), {
        cloud,
        host,
        catalogPath: g.catalog,
        opensslPassphraseFile: g.passphraseFile ? resolve(g.passphraseFile) : undefined,
        toolVersion: ctx.version,
      });
    });
}
