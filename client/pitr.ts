// `osbackup pitr archive|status|stop|compact`: the continuous binlog archiver of a cloud (one
// long-running workflow per cloud, id archive-binlogs:<cloud>), and a compaction pass on demand.
import type { Command } from 'commander';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { pitrArchiveWorkflowId, pitrCompactionWorkflowId } from '../core/pitr/segments.js';
import type { PitrArchiveStatus } from '../workflows/pitr-archive.js';
import type { PitrCompactionResult } from '../workflows/pitr-compaction.js';
import { CliError, connect, EXIT, startRun } from './connect.js';
import type { CliContext, G } from './control-plane.js';
import { taskQueueOf } from '../config/task-queues.js';

function describe(s: PitrArchiveStatus): string {
  const r = s.rpo;
  const rpo =
    r.achievedRpoSeconds === null
      ? 'not caught up yet'
      : `${r.achievedRpoSeconds.toFixed(1)} s (target ${r.rpoTargetSeconds} s: ${r.rpoMet ? 'met' : 'MISSED'})`;
  return (
    [
      `cloud ${s.cloud}: ${s.segments} segments archived (${s.bytes} bytes stored, ${s.events} events) since ${s.startedAt}${s.stopping ? ' — stopping' : ''}`,
      `  position      ${s.from ? `${s.from.file}:${s.from.position}` : '-'}${s.galera ? ' (Galera node)' : ''}`,
      `  caught up at  ${s.caughtUpAt ?? '-'}   newest event ${s.newestEventAt ?? '-'}   last GTID ${s.lastGtid ?? '-'}`,
      `  achieved RPO  ${rpo}; worst seen ${s.worstRpoSeconds.toFixed(1)} s`,
      s.startedFrom ? `  started from  ${s.startedFrom}` : '',
      s.compactionStartedAt
        ? `  compaction    ${s.compactionsStarted ?? 0} passes started, the last at ${s.compactionStartedAt} (workflow compact-binlogs:${s.cloud})`
        : '',
    ]
      .filter(Boolean)
      .join('\n') + '\n'
  );
}

export function registerPitrCommands(program: Command, ctx: CliContext<G>): void {
  // `binlog` was the command's first name: kept as an alias for scripts written against it
  const binlog = program
    .command('pitr')
    .alias('binlog')
    .description('point-in-time recovery: the continuous binary-log archive of a cloud (start, status, compact, stop)');
  binlog
    .command('archive')
    .description('start archiving the cloud database’s binary logs (runs until `pitr stop`)')
    .option('--cloud <name>', 'cloud from the config (default: the only one)')
    .action(async function (this: Command) {
      const g = this.optsWithGlobals<G>();
      const config = ctx.load(g);
      const cloud = ctx.pickCloud(config, g.cloud);
      try {
        // the archiver runs until stopped: the id and link are the command's output
        const { handle, link } = await startRun(config, {
          type: 'pitrArchiveWorkflow',
          workflowId: pitrArchiveWorkflowId(cloud),
          input: { cloud, toolVersion: ctx.version },
          labels: { cloud, component: 'binlog', tier: 'continuous' },
          quiet: true,
        });
        ctx.out(g, { workflowId: handle.workflowId, ui: link }, `${handle.workflowId}\n  ${link}\n`);
      } catch (e) {
        if (e instanceof WorkflowExecutionAlreadyStartedError)
          throw new CliError(
            `the archiver of cloud ${cloud} is already running (${pitrArchiveWorkflowId(cloud)}); see \`osbackup pitr status\``,
            EXIT.usage,
          );
        throw e;
      }
    });
  binlog
    .command('status')
    .description('how far the archive has reached and the achieved RPO')
    .option('--cloud <name>', 'cloud from the config (default: the only one)')
    .action(async function (this: Command) {
      const g = this.optsWithGlobals<G>();
      const config = ctx.load(g);
      const cloud = ctx.pickCloud(config, g.cloud);
      const client = await connect(config);
      const handle = client.workflow.getHandle(pitrArchiveWorkflowId(cloud));
      const s = await handle.query<PitrArchiveStatus>('status').catch((e: Error) => {
        throw new CliError(
          `no running archiver for cloud ${cloud} (${e.message}); start one with \`osbackup pitr archive\``,
          EXIT.failed,
        );
      });
      // a cloud moved to a queue of its own: the archiver keeps its queue across continue-as-new
      const queue = (await handle.describe()).taskQueue;
      if (queue !== taskQueueOf(config, cloud))
        console.error(
          `the archiver runs on task queue ${queue}, but the config puts cloud ${cloud} on ${taskQueueOf(config, cloud)}. Fix: \`osbackup pitr stop\`, then \`osbackup pitr archive\` (it goes on from the archive's last position)`,
        );
      ctx.out(g, s, describe(s));
    });
  binlog
    .command('compact')
    .description(
      'run a compaction pass now: merge segments older than compactAfterMinutes, remove the pieces (the archiver runs one every compactAfterMinutes)',
    )
    .option('--cloud <name>', 'cloud from the config (default: the only one)')
    .action(async function (this: Command) {
      const g = this.optsWithGlobals<G>();
      const config = ctx.load(g);
      const cloud = ctx.pickCloud(config, g.cloud);
      let r: PitrCompactionResult;
      try {
        const { handle } = await startRun(config, {
          type: 'pitrCompactionWorkflow',
          workflowId: pitrCompactionWorkflowId(cloud),
          input: { cloud, toolVersion: ctx.version },
          labels: { cloud, component: 'binlog', tier: 'continuous' },
        });
        r = (await handle.result()) as PitrCompactionResult;
      } catch (e) {
        if (e instanceof WorkflowExecutionAlreadyStartedError)
          throw new CliError(
            `a compaction pass of cloud ${cloud} is running (${pitrCompactionWorkflowId(cloud)}); wait for it`,
            EXIT.usage,
          );
        throw e;
      }
      const pieces = r.merged.reduce((n, m) => n + m.pieces, 0);
      const text = r.skipped
        ? `compaction skipped: ${r.skipped}\n`
        : [
            `cloud ${cloud}: ${r.segmentsBefore} segments; ${r.merged.length} merged segments from ${pieces} pieces, ${r.removed} pieces removed${r.more ? ' (more left for the next pass)' : ''}`,
            ...r.merged.map(
              (m) =>
                `  ${m.id}  ${m.pieces} pieces, ${m.streamBytes} bytes of binlog, ${m.bytes} stored, ${m.seconds.toFixed(1)} s${m.adopted ? ' (found published)' : ''}`,
            ),
            ...r.failed.map((f) => `  NOT MERGED ${f.id}: ${f.message}`),
            ...(r.kept.length ? [`  kept (not covered by an intact merged segment): ${r.kept.join(', ')}`] : []),
          ].join('\n') + '\n';
      ctx.out(g, r, text);
      if (r.failed.length) process.exitCode = EXIT.failed;
    });
  binlog
    .command('stop')
    .description('stop the archiver after its current step')
    .option('--cloud <name>', 'cloud from the config (default: the only one)')
    .action(async function (this: Command) {
      const g = this.optsWithGlobals<G>();
      const config = ctx.load(g);
      const cloud = ctx.pickCloud(config, g.cloud);
      const client = await connect(config);
      const handle = client.workflow.getHandle(pitrArchiveWorkflowId(cloud));
      await handle.signal('stop');
      const s = (await handle.result()) as PitrArchiveStatus;
      ctx.out(g, s, `stopped.\n${describe(s)}`);
    });
}
