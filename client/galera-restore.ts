// `osbackup restore cluster [--id <backup> | --at <UTC>] [--bootstrap <node>] [--yes]`: a new
// Galera cluster from a backup (galeraClusterRestoreWorkflow). The plan is shown and nothing is
// stopped until an operator approves it here, or with `osbackup restore approve <workflow id>`.
import type { Command } from 'commander';
import type { ClusterRestoreSummary, GaleraClusterRestoreResult } from '../workflows/galera-restore.js';
import { runWorkflowId } from '../core/ids.js';
import { CliError, EXIT, startRun, waitWithProgress } from './connect.js';
import type { CliContext, G } from './control-plane.js';
import { utcTime } from './lib/utc-time.js';
import { askApproval } from './lib/approval.js';

export function describeClusterPlan(s: ClusterRestoreSummary): string {
  return (
    [
      `cluster restore of ${s.cloud}: ${s.nodes.join(', ')}`,
      `  from       ${s.chain.join(' → ')}${s.at ? ` + binlogs up to ${s.at} (UTC)` : ''}${s.donor ? ` (read from ${s.donor})` : ''}`,
      `  position   ${s.position ? `${s.position.clusterUuid}:${s.position.seqno}` : 'none recorded: the new cluster starts a new history'}`,
      `  stop       every node (${[...s.joiners, s.bootstrap].join(', ')}): the cloud's database is down until the end`,
      `  bootstrap  ${s.bootstrap}: the chain restored (its previous datadir kept aside), grastate.dat safe_to_bootstrap: 1, started with --wsrep-new-cluster`,
      `  rejoin     ${s.joiners.join(', ')}: datadir emptied, started, full SST from ${s.bootstrap}, one at a time`,
      `  verify     every node Synced in a cluster of ${s.nodes.length}, ${s.tables} recorded tables compared on each`,
    ].join('\n') + '\n'
  );
}

export function registerGaleraRestoreCommands(restore: Command, ctx: CliContext<G>): void {
  restore
    .command('cluster')
    .description(
      'restore a Galera cluster from a backup: stop every node, restore to one and bootstrap a new cluster from it, rejoin the others by SST, verify (asks first)',
    )
    .option('--id <backup>', 'backup id (default: the newest restore point)')
    .option('--at <UTC time>', 'point in time (UTC): the newest backup before it plus the archived binlogs')
    .option(
      '--bootstrap <node>',
      'the node the new cluster starts from (default: the first configured node with a bootstrapCommand)',
    )
    .option('--yes', 'start without asking once the plan is ready')
    .option('--cloud <name>', 'cloud from the config (default: the only one)')
    .action(async function (this: Command) {
      const g = this.optsWithGlobals<G & { id?: string; at?: string; bootstrap?: string; yes?: boolean }>();
      if (g.id && g.at) throw new CliError('give --id or --at, not both', EXIT.usage);
      const config = ctx.load(g);
      const cloud = ctx.pickCloud(config, g.cloud);
      const galera = config.clouds[cloud]!.database.galera;
      // the workflow refuses too; saying it here spares a run
      if (!galera)
        throw new CliError(
          `cloud ${cloud} is not a Galera cluster (clouds.${cloud}.database has no galera section): restore a single server with \`osbackup restore db --to <host>\``,
          EXIT.usage,
        );
      if (g.bootstrap && !galera.nodes.includes(g.bootstrap))
        throw new CliError(
          `--bootstrap ${g.bootstrap} is not a node of ${cloud}'s cluster (${galera.nodes.join(', ')})`,
          EXIT.usage,
        );
      const at = g.at ? utcTime(g.at) : undefined;
      const { handle, link } = await startRun(config, {
        type: 'galeraClusterRestoreWorkflow',
        workflowId: runWorkflowId('restore-cluster', cloud, new Date()),
        input: {
          cloud,
          backupId: g.id,
          at,
          bootstrap: g.bootstrap,
          approved: !!g.yes,
          approvalTimeoutSeconds: Math.round(config.clouds[cloud]!.approvalTimeoutHours * 3600),
        },
        labels: { cloud, component: 'database', tier: 'restore' },
        quiet: !!g.json,
      });
      if (!g.yes)
        await askApproval<ClusterRestoreSummary>(
          handle,
          describeClusterPlan,
          () => `stop every node of ${cloud} and restore?`,
        );
      const r = await waitWithProgress<GaleraClusterRestoreResult>(handle, !!g.json);
      const text =
        r.outcome === 'rejected'
          ? `rejected (${r.rejectReason}): no node was touched\n`
          : `restored ${r.summary.chain.join(' → ')} to ${cloud}'s cluster in ${r.totalSeconds.toFixed(1)} s: bootstrapped on ${r.summary.bootstrap}, ${r.summary.joiners.join(', ')} rejoined by SST\n` +
            r.nodes
              .map(
                (n) =>
                  `  ${n.host.padEnd(12)} ${n.role.padEnd(9)} size ${n.clusterSize} state ${n.localState} ${n.clusterStatus}  ${n.tables.filter((t) => t.outcome === 'equal').length}/${n.tables.length} tables equal to the ${r.comparedWith}${n.joinSeconds !== null ? `  joined in ${n.joinSeconds.toFixed(1)} s` : ''}\n`,
              )
              .join('') +
            (r.restore?.asideDir ? `  ${r.summary.bootstrap}'s previous data kept in ${r.restore.asideDir}\n` : '');
      ctx.out(g, { workflowId: handle.workflowId, ui: link, ...r }, text);
    });
}
