// `osbackup`: start and watch workflows, read the catalog. Every command prints the workflow
// id and its Temporal UI link, takes --json, and exits non-zero with the cause on failure.
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { ConfigError, configPath, loadConfig } from '../config/load.js';
import { taskQueueOf } from '../config/task-queues.js';
import type { Config } from '../config/schema.js';
import { catalogCsv, catalogTable, type CatalogEntry } from '../core/catalog/catalog.js';
import { backupDbWorkflowId, restoreDbWorkflowId, runWorkflowId } from '../core/ids.js';
import { parseBinlogPosition, parseGtid } from '../core/pitr/segments.js';
import type { BackupDatabaseResult } from '../workflows/backup-database.js';
import type { RestoreDatabaseResult } from '../workflows/restore-database.js';
import type { CatalogRebuilt } from '../activities/catalog/activities.js';
import { catalogListing } from './catalog-pages.js';
import { CliError, connect, EXIT, startRun, waitWithProgress } from './connect.js';
import { registerControlPlaneCommands } from './control-plane.js';
import { registerPitrCommands } from './pitr.js';
import { registerInspectCommands } from './inspect.js';
import { registerPreflightCommand } from './preflight.js';
import { utcTime } from './lib/utc-time.js';
import { registerServiceRestoreCommands } from './service-restore.js';
import { registerScheduleCommands } from './schedules.js';

// The gRPC client names the TLS server by the address even when that is an IP, and Node warns
// about it on every TLS connection: noise on an operator's terminal. Other warnings still print.
process.removeAllListeners('warning');
process.on('warning', (w: Error & { code?: string }) => {
  if (w.code !== 'DEP0123') process.stderr.write(`${w.name}: ${w.message}\n`);
});

const version = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

interface Globals {
  config?: string;
  json?: boolean;
}

function load(g: Globals): Config {
  try {
    return loadConfig(configPath(g.config));
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(e.message, EXIT.configInvalid);
    throw e;
  }
}

function pickCloud(config: Config, cloud?: string): string {
  const names = Object.keys(config.clouds);
  if (cloud) {
    if (!config.clouds[cloud])
      throw new CliError(`cloud "${cloud}" is not in the config (known: ${names.join(', ')})`, EXIT.usage);
    return cloud;
  }
  if (names.length === 1) return names[0]!;
  if (config.defaultCloud) return config.defaultCloud;
  throw new CliError(
    `the config has several clouds (${names.join(', ')}): choose one with --cloud, or set defaultCloud`,
    EXIT.usage,
  );
}

/** Copies a restore point's chain (default: the newest intact one) from a target into the repository; returns its id. */
async function fetchChain(g: Globals, config: Config, cloud: string, from: string, backupId?: string): Promise<string> {
  (await import('./storage.js')).targetOf(config, from);
  const { runWorkflow } = await import('./control-plane.js');
  const { r } = await runWorkflow<import('../workflows/copy.js').CopyTargetResult[]>(
    { load, pickCloud, out, version },
    g,
    config,
    'copyWorkflow',
    runWorkflowId('fetch', cloud, new Date()),
    'copy',
    'restore',
    [{ cloud, from, to: [config.repository.name], ids: backupId ? [backupId] : undefined, newest: !backupId }],
  );
  return r[0]!.wanted[0]!;
}

/** The catalog's rows; targets that could not be read are named on stderr and make the exit code 1. */
async function listCatalog(config: Config, args: { cloud?: string; target?: string }): Promise<CatalogEntry[]> {
  const r = await catalogListing(await connect(config), config, args);
  for (const u of r.unavailable)
    process.stderr.write(`osbackup: target "${u.target}" could not be read, its copies are not listed: ${u.reason}\n`);
  if (r.unavailable.length) process.exitCode = EXIT.failed;
  return r.rows;
}

function out(g: Globals, json: unknown, text: string): void {
  process.stdout.write(g.json ? JSON.stringify(json, null, 2) + '\n' : text);
}

const program = new Command()
  .name('osbackup')
  .description('Backup, restore and disaster recovery for Kolla-Ansible OpenStack clouds')
  .version(version)
  .option('-c, --config <file>', 'config file (default: $OSBACKUP_CONFIG or ./osbackup.yml)')
  .option('--json', 'machine-readable output on stdout (errors too: one JSON object)')
  // usage errors exit 64 (EX_USAGE) instead of commander's 1; help and version stay 0
  .exitOverride()
  // commander's own error line is replaced by fail()'s (plain or JSON)
  .configureOutput({ outputError: () => undefined });

/** --json anywhere on the command line (errors may come before commander has parsed it). */
function jsonRequested(): boolean {
  return process.argv.includes('--json');
}

program
  .command('config')
  .description('configuration')
  .command('check')
  .description(
    'validate the config file and what it names on this host (secrets resolve, files open, TLS pair matches); prints every bad path with its reason',
  )
  .action(async function (this: Command) {
    const g = this.optsWithGlobals<Globals>();
    const c = load(g);
    const file = configPath(g.config);
    const problems = await (await import('./config-check.js')).checkConfigResources(c);
    if (problems.length)
      throw new CliError(
        `${file}: the config parses but ${problems.length === 1 ? 'one thing it names is' : `${problems.length} things it names are`} not usable here\n` +
          problems.map((p) => `  - ${p.path}: ${p.message}`).join('\n'),
        EXIT.configInvalid,
      );
    // the ids and fingerprints (not secret) let an operator match a payload's key id to a key file
    const ring = (await import('../config/temporal.js')).payloadKeyRing(c);
    out(
      g,
      {
        ok: true,
        file,
        clouds: Object.keys(c.clouds),
        payloadKeys: ring?.keys.map((k, i) => ({ id: k.id, fingerprint: k.fingerprint, current: i === 0 })) ?? [],
      },
      `config OK: ${file}, clouds ${Object.keys(c.clouds).join(', ')}\n` +
        (ring ? `payload keys: ${ring.describe(true)}\n` : 'payload keys: none, Temporal history in clear\n'),
    );
  });

program
  .command('temporal')
  .description('the Temporal side')
  .command('setup')
  .description(
    "prepare the config's namespace once: create it where the server allows, register the search attributes the workflows set; idempotent, prints what it changed",
  )
  .option('--retention-days <n>', 'history retention of a namespace it creates', (v) => Number(v), 30)
  .action(async function (this: Command) {
    const g = this.optsWithGlobals<Globals & { retentionDays: number }>();
    const config = load(g);
    if (!Number.isInteger(g.retentionDays) || g.retentionDays < 1)
      throw new CliError('--retention-days must be a whole number of days ≥ 1', EXIT.usage);
    const client = await connect(config, { setupCheck: false });
    const { temporalSetup } = await import('./temporal-setup.js');
    const r = await temporalSetup(client.connection, config.temporal.namespace, g.retentionDays);
    if (r.namespace.state === 'missing, not allowed to create')
      throw new CliError(
        `namespace ${r.namespace.name} does not exist and this client may not create it. Fix: create it where your Temporal is administered (Temporal Cloud: its web UI or tcld), then run this again`,
        EXIT.configInvalid,
      );
    const changed = r.namespace.state === 'created' || r.searchAttributes.some((a) => a.state === 'added');
    out(
      g,
      { ...r, changed },
      `namespace ${r.namespace.name}: ${r.namespace.state}\n` +
        r.searchAttributes.map((a) => `search attribute ${a.name} (Keyword): ${a.state}\n`).join('') +
        (changed ? '' : 'nothing to change\n'),
    );
  });

program
  .command('worker')
  .description(
    "run the worker: it polls its clouds' task queues and runs the backups, restores and drills until SIGTERM/SIGINT, then drains",
  )
  .option('--cloud <name...>', 'serve only these clouds (default: worker.clouds, or every cloud and the default queue)')
  .action(async function (this: Command) {
    const g = this.optsWithGlobals<Globals & { cloud?: string[] }>();
    process.exitCode = await (await import('../worker/run.js')).runWorker({ config: g.config, clouds: g.cloud });
  });

const backup = program.command('backup').description('take backups');
backup
  .command('db')
  .description('back up the cloud database (mariabackup streamed over SSH)')
  .addOption(new Option('--full', 'a full backup (the default)'))
  .addOption(new Option('--incremental', 'an incremental on the newest intact chain member').conflicts('full'))
  .option('--cloud <name>', 'cloud from the config (default: the only one)')
  .option('--tier <tier>', 'tier label (daily, weekly, monthly, manual)', 'manual')
  .option('--wait', 'wait for the result, showing progress', false)
  .action(async function (this: Command) {
    const g = this.optsWithGlobals<Globals & { cloud?: string; tier: string; wait: boolean; incremental?: boolean }>();
    const config = load(g);
    const cloud = pickCloud(config, g.cloud);
    const kind = g.incremental ? 'incremental' : 'full';
    const { handle, link } = await startRun(config, {
      type: 'backupDatabaseWorkflow',
      workflowId: backupDbWorkflowId(cloud, new Date()),
      input: { cloud, kind, tier: g.tier, toolVersion: version },
      labels: { cloud, component: 'database', tier: g.tier },
      quiet: !!g.json,
    });
    if (!g.wait)
      return out(
        g,
        { workflowId: handle.workflowId, runId: handle.firstExecutionRunId, ui: link },
        `${handle.workflowId}\n`,
      );
    const r = await waitWithProgress<BackupDatabaseResult>(handle, !!g.json);
    out(
      g,
      { workflowId: handle.workflowId, ui: link, ...r },
      `${r.fellBackToFull ? `no valid base for an incremental (${r.fellBackToFull}): took a full backup (autoFull)\n` : ''}${r.kind} backup ${r.backupId}${r.parentId ? ` on ${r.parentId}` : ''}: ${r.streamBytes} bytes streamed → ${r.bytes} stored in ${r.streamSeconds.toFixed(1)} s (${r.throughputMBps.toFixed(1)} MB/s), sha256 ${r.sha256}\n  ${r.path}\n${r.unstableTables.length ? `  tables written during the backup (not comparable on restore): ${r.unstableTables.join(', ')}\n` : ''}`,
    );
  });

(await import('./openstack.js')).registerOpenstackBackupCommands(backup, { load, pickCloud, out, version });

const restore = program.command('restore').description('restore backups');
restore
  .command('db')
  .description('restore a database backup to a host and prove it')
  .requiredOption('--to <host>', 'target host (from the config)')
  .option('--backup <id>', 'backup id (default: the newest intact restore point)')
  .option(
    '--from <target>',
    'restore from this target (e.g. an off-site Swift copy): the chain is copied back into the repository first',
  )
  .addOption(
    new Option(
      '--at <UTC time>',
      'point in time (UTC, e.g. "2026-11-30 04:05:06"): the newest backup before it, then the archived binary logs up to and including that second',
    ).conflicts(['backup', 'from']),
  )
  .addOption(
    new Option(
      '--gtid <domain-server-seq>',
      'point in time as a transaction (e.g. 0-1-4711): the newest backup before it, then the archived binary logs up to and including that transaction',
    ).conflicts(['backup', 'from', 'at']),
  )
  .addOption(
    new Option(
      '--position <file:pos>',
      'point in time as a binlog position (e.g. mysql-bin.000042:1234, as SHOW MASTER STATUS shows it): every event that starts before it is replayed',
    ).conflicts(['backup', 'from', 'at', 'gtid']),
  )
  .option('--cloud <name>', 'cloud from the config (default: the only one)')
  .option('--verify', 'compare every recorded count and checksum after the restore (default)', true)
  .option('--no-verify', 'skip the comparison')
  .option('--no-wait', 'return once the workflow has started')
  .action(async function (this: Command) {
    const g = this.optsWithGlobals<
      Globals & {
        to: string;
        backup?: string;
        from?: string;
        at?: string;
        gtid?: string;
        position?: string;
        cloud?: string;
        verify: boolean;
        wait: boolean;
      }
    >();
    const config = load(g);
    const cloud = pickCloud(config, g.cloud);
    const at = g.at === undefined ? undefined : utcTime(g.at);
    if (g.gtid !== undefined && !parseGtid(g.gtid))
      throw new CliError(
        `--gtid "${g.gtid}" is not a GTID: use domain-server-sequence, e.g. 0-1-4711 (SELECT @@gtid_binlog_pos)`,
        EXIT.usage,
      );
    if (g.position !== undefined && !parseBinlogPosition(g.position))
      throw new CliError(
        `--position "${g.position}" is not a binlog position: use file:byte offset, e.g. mysql-bin.000042:1234 (SHOW MASTER STATUS)`,
        EXIT.usage,
      );
    if (!config.clouds[cloud]!.hosts[g.to])
      throw new CliError(
        `host "${g.to}" is not under clouds.${cloud}.hosts (known: ${Object.keys(config.clouds[cloud]!.hosts).join(', ')})`,
        EXIT.usage,
      );
    let backupId = g.backup;
    if (g.from && g.from !== config.repository.name) {
      // an off-site copy: bring the chain back into the repository first (hashes checked), then restore it
      const fetched = await fetchChain(g, config, cloud, g.from, g.backup);
      backupId = fetched;
    }
    const { handle, link } = await startRun(config, {
      type: 'restoreDatabaseWorkflow',
      workflowId: restoreDbWorkflowId(cloud, g.to, new Date()),
      input: {
        cloud,
        targetHost: g.to,
        backupId,
        verify: g.verify,
        at,
        gtid: g.gtid?.trim(),
        position: g.position?.trim(),
      },
      labels: { cloud, component: 'database', tier: 'restore' },
      quiet: !!g.json,
    });
    if (!g.wait)
      return out(
        g,
        { workflowId: handle.workflowId, runId: handle.firstExecutionRunId, ui: link },
        `${handle.workflowId}\n`,
      );
    const r = await waitWithProgress<RestoreDatabaseResult>(handle, !!g.json);
    const rows = r.tables
      .map(
        (t) =>
          `  ${t.outcome.padEnd(9)} ${t.table}: ${t.actualRows ?? '-'} rows (recorded ${t.expectedRows}), checksum ${t.actualChecksum ?? '-'} (recorded ${t.expectedChecksum ?? '-'})`,
      )
      .join('\n');
    const p = r.pointInTime;
    const pitrLine = p
      ? `  replayed ${p.segments} binlog segments (${p.files.join(', ')}) up to ${p.target}: ${p.transactions} transactions, last ${p.lastGtid ?? 'none'} at ${p.lastEventAt ?? '-'}; gtid_slave_pos ${p.gtidSlavePos ?? '-'}\n`
      : '';
    out(
      g,
      { workflowId: handle.workflowId, ui: link, ...r },
      `restored ${r.chain.join(' → ')} to ${r.targetHost} in ${r.timings.totalSeconds.toFixed(1)} s: ${r.verification}${r.verificationNote ? ` (${r.verificationNote})` : ''}\n${rows}\n${pitrLine}${r.asideDir ? `  previous data kept in ${r.asideDir}\n` : ''}`,
    );
  });

registerPitrCommands(program, { load, pickCloud, out, version });
registerInspectCommands(program, { load, pickCloud, out, version });
registerPreflightCommand(program, { load, pickCloud, out, version });

program
  .command('status')
  .description(
    "the cloud's recovery status: per component the newest CHECKED and VERIFIED restore point, achieved RPO vs target, the last drill's RTO vs target and its age, chain and binlog-archiver health; for a Galera cluster each node's state. Exit 7 when a target is breached",
  )
  .option('--cloud <name>', 'the cloud (default: the only one, or defaultCloud)')
  .addOption(
    new Option(
      '--all',
      'every cloud of the config (recovery status only; exit 7 when any cloud has a breach)',
    ).conflicts('cloud'),
  )
  .action(async function (this: Command) {
    const g = this.optsWithGlobals<Globals & { cloud?: string; all?: boolean }>();
    const config = load(g);
    const client = await connect(config);
    const { recoveryStatusOf, recoveryStatusText } = await import('./dr.js');
    if (g.all) {
      const all = [];
      for (const c of Object.keys(config.clouds)) all.push(await recoveryStatusOf(config, c, client));
      if (all.some((r) => !r.ok)) process.exitCode = EXIT.breach;
      out(
        g,
        { clouds: all.map((recovery) => ({ cloud: recovery.cloud, recovery })) },
        all.map(recoveryStatusText).join('\n'),
      );
      return;
    }
    const cloud = pickCloud(config, g.cloud);
    const db = config.clouds[cloud]!.database;
    const recovery = await recoveryStatusOf(config, cloud, client);
    if (!recovery.ok) process.exitCode = EXIT.breach;
    if (!db.galera) {
      out(
        g,
        { cloud, database: { host: db.host, galera: false }, recovery },
        `${cloud}: database on ${db.host} (a single server; no Galera section)\n${recoveryStatusText(recovery)}`,
      );
      return;
    }
    const r = (await client.workflow.execute('galeraStatusWorkflow', {
      taskQueue: taskQueueOf(config, cloud),
      workflowId: `galera-status:${cloud}:${Date.now()}`,
      args: [{ cloud }],
    })) as Awaited<ReturnType<import('../activities/index.js').Activities['galeraStatus']>>;
    const rows = r.nodes.map(
      (n) =>
        `  ${n.host.padEnd(10)} ${(n.reachable ? (n.state ?? '?') : 'UNREACHABLE').padEnd(16)} ${String(n.clusterSize ?? '-').padEnd(5)} ${String(n.seqno ?? '-').padEnd(10)} ${n.desync ? 'desync ON' : n.reachable ? 'desync OFF' : (n.error ?? '')}`,
    );
    const last = r.lastBackup
      ? `last backup ${r.lastBackup.id} read from ${r.lastBackup.donor} at seqno ${r.lastBackup.seqno}${r.lastBackup.failedDonors.length ? ` (after ${r.lastBackup.failedDonors.join(', ')} failed)` : ''}`
      : 'no Galera backup yet';
    out(
      g,
      { cloud, ...r, recovery },
      `${cloud}: Galera cluster\n  ${'node'.padEnd(10)} ${'state'.padEnd(16)} ${'size'.padEnd(5)} ${'seqno'.padEnd(10)} desync\n${rows.join('\n')}\n${last}\n${recoveryStatusText(recovery)}`,
    );
  });

const catalog = program.command('catalog').description('the backup catalog (always rebuilt from the repository)');
catalog
  .command('list')
  .description('list restore points')
  .option('--cloud <name>', 'only this cloud')
  .option('--target <name>', 'only this target (default: every target)')
  .option('--csv', "the seed's catalog.csv columns")
  .action(async function (this: Command) {
    const g = this.optsWithGlobals<Globals & { cloud?: string; csv?: boolean; target?: string }>();
    const config = load(g);
    const rows = await listCatalog(config, { cloud: g.cloud, target: g.target });
    if (g.csv) process.stdout.write(catalogCsv(rows));
    else out(g, rows, rows.length ? catalogTable(rows) : 'no backups yet\n');
  });

catalog
  .command('rebuild')
  .description('rebuild the catalog index from the repository alone (manifests and verification records)')
  .action(async function (this: Command) {
    const g = this.optsWithGlobals<Globals>();
    const config = load(g);
    const client = await connect(config);
    const counts = (await client.workflow.execute('catalogRebuildWorkflow', {
      taskQueue: taskQueueOf(config),
      workflowId: `catalog-rebuild:${Date.now()}`,
      args: [],
    })) as CatalogRebuilt[];
    const sum = (k: 'rows' | 'verified') => counts.reduce((n, c) => n + c[k], 0);
    const text = `catalog rebuilt from the storage of every target: ${sum('rows')} rows, ${sum('verified')} VERIFIED\n`;
    // --json prints the rebuilt rows, listed by pages (the rebuild's own result carries only counts)
    out(g, g.json ? await listCatalog(config, {}) : counts, text);
  });

catalog
  .command('export')
  .description("export the catalog (--csv: the seed's timestamp,type,level,path,size,checksum columns)")
  .option('--csv', 'CSV (the default)', true)
  .option('--cloud <name>', 'only this cloud')
  .action(async function (this: Command) {
    const g = this.optsWithGlobals<Globals & { cloud?: string }>();
    const config = load(g);
    const rows = await listCatalog(config, { cloud: g.cloud });
    process.stdout.write(catalogCsv(rows));
  });

registerControlPlaneCommands(backup, restore, { load, pickCloud, out, version });
registerServiceRestoreCommands(restore, { load, pickCloud, out, version });
(await import('./dump.js')).registerDumpCommands(backup, restore, { load, pickCloud, out, version });
(await import('./cloud-restore.js')).registerCloudRestoreCommands(restore, { load, pickCloud, out, version });
(await import('./galera-restore.js')).registerGaleraRestoreCommands(restore, { load, pickCloud, out, version });
(await import('./storage.js')).registerStorageCommands(program, { load, pickCloud, out, version });
(await import('./verify.js')).registerVerifyCommands(program, { load, pickCloud, out });
registerScheduleCommands(program, { load, pickCloud, out, version });
(await import('./dr.js')).registerDrCommands(program, { load, pickCloud, out, version });
(await import('./keys.js')).registerKeysCommands(program);
(await import('./import.js')).registerImportCommands(program, { load, pickCloud, out, version });
(await import('./report/command.js')).registerReportCommand(program, { load, pickCloud, out, version });
program
  .command('codec-server')
  .description(
    'decrypt osbackup payloads for the Temporal UI ("Data Encoder") and `temporal --codec-endpoint`; run it where the payload key is',
  )
  .option('--listen <host:port>', 'address to listen on', '127.0.0.1:8888')
  .option('--origin <url...>', "browser origins allowed besides the config's temporal.uiUrl")
  .option('--token-file <file>', 'require "Authorization: Bearer <token in this file>" on every request')
  .action(async function (this: Command) {
    const g = this.optsWithGlobals<Globals & import('./codec-server.js').CodecServerFlags>();
    await (await import('./codec-server.js')).runCodecServer(load(g), g);
  });

// after every other command: `dr rebuild` joins the `dr` command `dr drill` creates
(await import('./dr-rebuild.js')).registerDrRebuildCommands(program, { load, pickCloud, out, version });

/**
 * Exits once stdout has taken everything written: a pipe is written asynchronously, and
 * process.exit() at once would cut a long listing off at the pipe's 64 KiB.
 */
function exitFlushed(code: number): void {
  process.stdout.write('', () => process.exit(code));
}

program.parseAsync(process.argv).then(
  () => exitFlushed(typeof process.exitCode === 'number' ? process.exitCode : 0),
  (e: unknown) => {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) process.exit(0);
      fail(e.message.replace(/^error: /, ''), EXIT.usage, 'usage');
    }
    if (e instanceof CliError) fail(e.message, e.exitCode);
    fail(e instanceof Error ? e.message : String(e), EXIT.failed);
  },
);

/** Ends the run with an error: a line on stderr, or with --json one JSON object on stdout. */
function fail(message: string, exitCode: number, kind?: string): never {
  if (jsonRequested())
    process.stdout.write(JSON.stringify({ error: message, exitCode, ...(kind ? { kind } : {}) }) + '\n');
  else process.stderr.write(`osbackup: ${message}\n`);
  process.exit(exitCode);
}
