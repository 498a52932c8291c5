// `osbackup verify` (re-read artifacts, CHECKED / CORRUPT / MISSING, the restore points that
// breaks) and `osbackup capacity` (stored size, growth, forecast, days until full).
import type { Command } from 'commander';
import type { Config } from '../config/schema.js';
import { capacityTable } from '../core/capacity/capacity.js';
import type { CapacityResult } from '../workflows/capacity.js';
import { runWorkflowId } from '../core/ids.js';
import type { VerifyTargetReport } from '../core/verify/report.js';
import type { VerifyResult } from '../workflows/verify.js';
import { CliError, EXIT, startRun, waitWithProgress } from './connect.js';

type G = { json?: boolean; config?: string; cloud?: string };

interface Ctx {
  load(g: G): Config;
  pickCloud(config: Config, cloud?: string): string;
  out(g: G, json: unknown, text: string): void;
}

const when = (iso: string | null) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-');

function table(head: string[], body: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const fmt = (cols: string[]) =>
    cols
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [fmt(head), ...body.map(fmt)].map((l) => `    ${l}`).join('\n') + '\n';
}

export function verifyText(r: VerifyTargetReport): string {
  const c = r.counts;
  let s = `target ${r.target} (${r.location})${r.since ? `, artifacts completed since ${when(r.since)}` : ''}:\n  ${c.checked} CHECKED, ${c.corrupt} CORRUPT, ${c.missing} MISSING${c.notChecked ? `, ${c.notChecked} not re-read in this run` : ''}\n`;
  if (!r.catalogIndex)
    s +=
      '  (no catalog index on this target: a folder deleted whole is only noticed through the incrementals that name it)\n';
  for (const b of r.bad) {
    s += `  ${b.result.padEnd(7)} ${b.id} (${b.component} ${b.kind}${b.completedAt ? `, ${when(b.completedAt)}` : ''}): ${b.reason}\n`;
    s += `          breaks restore point${b.breaks.length === 1 ? '' : 's'}: ${b.breaks.join(', ')}\n`;
  }
  const broken = r.restorePoints.filter((p) => p.state === 'broken' && !r.bad.some((b) => b.breaks.includes(p.id)));
  for (const p of broken) s += `  BROKEN  ${p.id}: ${p.because.join('; ')}\n`;
  const newest = Object.entries(r.newestIntact);
  s += `  newest intact restore point: ${newest.length ? newest.map(([k, v]) => `${k} ${v ?? 'none'}`).join(' · ') : 'none'}\n`;
  if (r.artifacts.length) {
    const state = new Map(r.restorePoints.map((p) => [p.id, p.state]));
    s += table(
      ['ID', 'COMPONENT', 'KIND', 'COMPLETED (UTC)', 'STATE', 'CHECKED AT (UTC)', 'RESTORE POINT'],
      r.artifacts.map((a) => [
        a.id,
        a.component,
        a.kind,
        when(a.completedAt),
        a.result,
        when(a.checkedAt),
        state.get(a.id) ?? '-',
      ]),
    );
  }
  return s;
}

export function registerVerifyCommands(program: Command, ctx: Ctx): void {
  program
    .command('verify')
    .description(
      'scrub: re-read every stored artifact and compare its SHA-256 and size with the manifest (CHECKED — not VERIFIED, which takes a restore); names corrupt and missing artifacts and the restore points they break; exit 4 when anything is damaged',
    )
    .option('--cloud <name>', 'cloud from the config (default: the only one)')
    .option('--target <name>', 'one target (default: the repository and every target)')
    .option('--since <when>', 'only artifacts completed since an ISO date/time or a duration before now (7d, 12h, 30m)')
    .action(async function (this: Command) {
      const g = this.optsWithGlobals<G & { target?: string; since?: string }>();
      const config = ctx.load(g);
      const cloud = ctx.pickCloud(config, g.cloud);
      const known = [config.repository.name, ...Object.keys(config.targets)];
      if (g.target && !known.includes(g.target))
        throw new CliError(`target "${g.target}" is not configured (known: ${known.join(', ')})`, EXIT.usage);
      if (g.since && !/^(\d+\s*[mhdw]|\d{4}-\d{2}-\d{2}.*)$/.test(g.since.trim()))
        throw new CliError(
          `--since "${g.since}": use an ISO date/time (2026-11-01, 2026-11-01T02:00:00Z) or a duration (7d, 12h, 30m)`,
          EXIT.usage,
        );
      const { handle, link } = await startRun(config, {
        type: 'verifyWorkflow',
        workflowId: runWorkflowId('verify', cloud, new Date(), ...(g.target ? [g.target] : [])),
        input: { cloud, target: g.target, since: g.since },
        labels: { cloud, component: 'storage', tier: 'verify' },
        quiet: !!g.json,
      });
      const r = await waitWithProgress<VerifyResult>(handle, !!g.json);
      const failed = r.failed.map((f) => `target ${f.target}: NOT CHECKED — ${f.error}\n`).join('');
      const damaged = r.targets.some(
        (t) => t.counts.corrupt || t.counts.missing || t.restorePoints.some((p) => p.state === 'broken'),
      );
      const verdict = r.ok
        ? 'clean: every re-read artifact CHECKED (hashes equal; VERIFIED still takes a restore)\n'
        : damaged
          ? 'DAMAGE FOUND: see the CORRUPT / MISSING lines above and the restore points they break\n'
          : 'some targets could not be checked\n';
      ctx.out(
        g,
        { workflowId: handle.workflowId, ui: link, ...r },
        r.targets.map(verifyText).join('\n') + failed + verdict,
      );
      if (damaged) process.exitCode = EXIT.damaged;
      else if (!r.ok) process.exitCode = EXIT.failed;
    });

  program
    .command('capacity')
    .description(
      'per target and component: stored size, growth per day, the 30-day forecast, and days until the target is full',
    )
    .option('--cloud <name>', "only this cloud's components (the target totals count every cloud)")
    .action(async function (this: Command) {
      const g = this.optsWithGlobals<G>();
      const config = ctx.load(g);
      if (g.cloud && !config.clouds[g.cloud])
        throw new CliError(
          `cloud "${g.cloud}" is not in the config (known: ${Object.keys(config.clouds).join(', ')})`,
          EXIT.usage,
        );
      // one run over every target: no cloud label unless one was asked for
      const { handle, link } = await startRun(config, {
        type: 'capacityWorkflow',
        workflowId: `capacity:${g.cloud ?? 'all'}:${Date.now()}`,
        input: { cloud: g.cloud },
        quiet: !!g.json,
      });
      const r = await waitWithProgress<CapacityResult>(handle, !!g.json);
      const failed = r.failed.map((f) => `target ${f.target}: could not be read — ${f.error}\n`).join('');
      ctx.out(
        g,
        { workflowId: handle.workflowId, ui: link, ...r },
        capacityTable(r.targets) +
          failed +
          "growth: least-squares slope of the stored bytes over the backups' completion times (what retention has deleted is not subtracted: an early warning)\n",
      );
      if (r.failed.length) process.exitCode = EXIT.failed;
    });
}
