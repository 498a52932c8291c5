// `osbackup preflight`: the gate CI calls before `kolla-ansible upgrade` / `reconfigure`.
// Exit codes are the contract with the pipeline: 0 open, 2 config invalid, 3 Temporal
// unreachable, 4 verification failed, 5 backup failed (or timed out), 6 no fresh restore point.
import type { Command } from 'commander';
import { runWorkflowId } from '../core/ids.js';
import type { PreflightResult } from '../workflows/preflight.js';
import { CliError, EXIT, startRun, waitWithProgress } from './connect.js';
import type { CliContext, G } from './control-plane.js';
import { taskQueueOf } from '../config/task-queues.js';

/** "90m", "2h", "45s" or plain minutes. */
export function minutesOf(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h)?$/.exec(text.trim());
  if (!m) throw new CliError(`${flag} "${text}" is not a duration: use e.g. 90m, 2h or 45s`, EXIT.usage);
  const n = Number(m[1]);
  return m[2] === 's' ? n / 60 : m[2] === 'h' ? n * 60 : n;
}

export function preflightExitCode(r: PreflightResult): number {
  if (r.ok) return EXIT.ok;
  return r.failedStage === 'backup' ? EXIT.backupFailed : r.failedStage === 'verify' ? EXIT.damaged : EXIT.stale;
}

function report(r: PreflightResult, link: string): string {
  const lines = [
    r.ok
      ? `preflight OK for cloud ${r.cloud}: a restore point to undo the upgrade with exists`
      : `preflight FAILED for cloud ${r.cloud} at "${r.failedStage}": ${r.failure}`,
  ];
  if (r.database)
    lines.push(
      `  database       ${r.database.backupId} (full, ${r.database.bytes} bytes, sha256 ${r.database.sha256})`,
    );
  if (r.controlPlane)
    lines.push(
      `  control plane  ${r.controlPlane.backupId}${r.controlPlane.missing.length ? ` (missing: ${r.controlPlane.missing.join(', ')})` : ''}`,
    );
  for (const c of r.checks) lines.push(`  re-read        ${c.id} ${c.result} at ${c.checkedAt}`);
  if (r.proof)
    lines.push(
      `  proof          restored on ${r.proof.host} in ${r.proof.seconds.toFixed(0)} s: ${r.proof.verification} (${r.proof.tables} tables compared)`,
    );
  if (!r.ok && r.children.length) lines.push(`  runs           ${r.children.join(', ')} (osbackup logs <id>)`);
  lines.push(`  ${link}`);
  return lines.join('\n') + '\n';
}

export function registerPreflightCommand(program: Command, ctx: CliContext<G>): void {
  program
    .command('preflight')
    .description(
      'the pre-upgrade gate: a fresh full database backup and a control-plane backup, re-read from storage (CHECKED); --prove also restores it (VERIFIED). Exit 0 only when such a restore point exists',
    )
    .option('--cloud <name>', 'cloud from the config (default: the only one)')
    .option(
      '--max-age <duration>',
      'the restore point must be younger than this (default: clouds.<c>.preflight.maxAgeMinutes, 60m)',
    )
    .option(
      '--timeout <duration>',
      'give up with exit 5 when the backups have not finished by then (default: preflight.timeoutMinutes, 60m)',
    )
    .option(
      '--prove',
      'also restore the new backup on the proof host and compare every recorded fact (VERIFIED)',
      false,
    )
    .option('--prove-on <host>', 'the proof host (default: preflight.proveOn)')
    .action(async function (this: Command) {
      const g = this.optsWithGlobals<G & { maxAge?: string; timeout?: string; prove: boolean; proveOn?: string }>();
      const config = ctx.load(g);
      const cloud = ctx.pickCloud(config, g.cloud);
      const pf = config.clouds[cloud]!.preflight;
      const proveOn = g.prove || g.proveOn ? (g.proveOn ?? pf.proveOn) : undefined;
      if ((g.prove || g.proveOn) && !proveOn)
        throw new CliError(
          `--prove needs a host to restore onto: --prove-on <host> or clouds.${cloud}.preflight.proveOn`,
          EXIT.usage,
        );
      if (proveOn && !config.clouds[cloud]!.hosts[proveOn]?.mariadb)
        throw new CliError(`--prove-on ${proveOn}: not a host with mariadb under clouds.${cloud}.hosts`, EXIT.usage);
      if (proveOn && proveOn === config.clouds[cloud]!.database.host)
        throw new CliError(
          `--prove-on ${proveOn} is the live database host: the proof would overwrite the cloud's database`,
          EXIT.usage,
        );
      const maxAgeMinutes = g.maxAge ? minutesOf(g.maxAge, '--max-age') : pf.maxAgeMinutes;
      const timeoutSeconds = Math.round((g.timeout ? minutesOf(g.timeout, '--timeout') : pf.timeoutMinutes) * 60);
      // the gate's own timeout cancels its work; this bounds a gate no worker ever picks up
      const { handle, link } = await startRun(config, {
        type: 'preflightWorkflow',
        workflowId: runWorkflowId('preflight', cloud, new Date()),
        input: { cloud, maxAgeMinutes, timeoutSeconds, proveOn },
        workflowExecutionTimeout: `${timeoutSeconds + 600} seconds`,
        labels: { cloud, component: 'preflight', tier: 'preflight' },
        quiet: !!g.json,
      });
      let r: PreflightResult;
      try {
        r = await waitWithProgress<PreflightResult>(handle, !!g.json);
      } catch (e) {
        // the gate itself failed (not a closed gate): no worker, or a bug — CI must not pass
        if (e instanceof CliError)
          throw new CliError(
            `the preflight run itself failed (${e.message}); is an osbackup worker polling task queue ${taskQueueOf(config, cloud)}?`,
            EXIT.backupFailed,
          );
        throw e;
      }
      ctx.out(g, { workflowId: handle.workflowId, ui: link, exitCode: preflightExitCode(r), ...r }, report(r, link));
      process.exitCode = preflightExitCode(r);
    });
}
