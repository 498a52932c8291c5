// `osbackup backup dump` and `osbackup restore dump`.
import type { Command } from 'commander';
import { runWorkflowId } from '../core/ids.js';
import { SCHEMA_NAME } from '../core/dump/dump.js';
import type { LogicalDumpResult, RestoreDumpResult } from '../workflows/logical-dump.js';
import { CliError, EXIT } from './connect.js';
import { runWorkflow, type CliContext, type G } from './control-plane.js';

function schemaList(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  const list = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = list.filter((s) => !SCHEMA_NAME.test(s));
  if (!list.length || bad.length)
    throw new CliError(
      `--schemas "${text}": give comma-separated schema names (letters, digits, "_", "$")`,
      EXIT.usage,
    );
  return list;
}

export function registerDumpCommands(backup: Command, restore: Command, ctx: CliContext<G>): void {
  backup
    .command('dump')
    .description(
      'a logical dump (mariadb-dump, one consistent snapshot) of chosen schemas, one sealed SQL file per schema',
    )
    .option(
      '--schemas <a,b>',
      'schemas to dump (default: clouds.<cloud>.database.dumps.schemas, else every non-system schema)',
    )
    .option('--cloud <name>', 'cloud from the config (default: the only one)')
    .option('--tier <tier>', 'tier label', 'manual')
    .action(async function (this: Command) {
      const g = this.optsWithGlobals<G & { schemas?: string; tier: string }>();
      const config = ctx.load(g);
      const cloud = ctx.pickCloud(config, g.cloud);
      const schemas = schemaList(g.schemas);
      const { r, link, workflowId } = await runWorkflow<LogicalDumpResult>(
        ctx,
        g,
        config,
        'logicalDumpWorkflow',
        runWorkflowId('backup-dump', cloud, new Date()),
        'dump',
        g.tier,
        [{ cloud, schemas, tier: g.tier, toolVersion: ctx.version }],
      );
      const rows = r.schemas
        .map(
          (s) =>
            `  ${s.name.padEnd(20)} ${String(s.tables).padStart(4)} tables  ${s.plainBytes} bytes of SQL → ${s.bytes} stored, sha256 ${s.sha256}`,
        )
        .join('\n');
      ctx.out(
        g,
        { workflowId, ui: link, ...r },
        `logical dump ${r.dumpId}: snapshot ${r.snapshotAt}${r.binlog ? ` at ${r.binlog.file}:${r.binlog.position}` : ''}${r.gtid ? ` (GTID ${r.gtid})` : ''}, ${r.seconds.toFixed(1)} s\n${rows}\n  ${r.path}\n`,
      );
    });

  restore
    .command('dump')
    .description(
      "import a logical dump (or chosen schemas of it) into a host's MariaDB; the files' hashes are checked first. Each schema is dropped and re-created",
    )
    .requiredOption('--to <host>', 'target host (from the config)')
    .option('--id <dump>', 'dump id (default: the newest dump)')
    .option('--schemas <a,b>', 'schemas to restore (default: every schema of the dump)')
    .option('--cloud <name>', 'cloud from the config (default: the only one)')
    .action(async function (this: Command) {
      const g = this.optsWithGlobals<G & { to: string; id?: string; schemas?: string }>();
      const config = ctx.load(g);
      const cloud = ctx.pickCloud(config, g.cloud);
      const host = config.clouds[cloud]!.hosts[g.to];
      if (!host)
        throw new CliError(
          `host "${g.to}" is not under clouds.${cloud}.hosts (known: ${Object.keys(config.clouds[cloud]!.hosts).join(', ')})`,
          EXIT.usage,
        );
      if (!host.mariadb)
        throw new CliError(`host "${g.to}" has no mariadb section: nothing to import into`, EXIT.usage);
      const { r, link, workflowId } = await runWorkflow<RestoreDumpResult>(
        ctx,
        g,
        config,
        'restoreDumpWorkflow',
        runWorkflowId('restore-dump', cloud, new Date(), g.to),
        'dump',
        'restore',
        [{ cloud, targetHost: g.to, dumpId: g.id, schemas: schemaList(g.schemas) }],
      );
      const rows = r.schemas
        .map(
          (s) =>
            `  ${s.name.padEnd(20)} ${s.tables} tables (the dump: ${s.expectedTables}), ${s.plainBytes} bytes of SQL in ${s.seconds.toFixed(1)} s`,
        )
        .join('\n');
      ctx.out(
        g,
        { workflowId, ui: link, ...r },
        `restored dump ${r.dumpId} (snapshot ${r.snapshotAt}) into ${r.targetHost} in ${r.seconds.toFixed(1)} s; ${r.verifiedBytes} bytes checked first\n${rows}\n`,
      );
    });
}
