// DR drill planning and judging, pure: which restore point a drill uses, what RPO it achieved,
// the integrity checks from what the restore produced, the record and its Markdown report.
// The drill workflow, its activities, `osbackup status` and the unit tests import this.
//
// Words: RTO = wall time of the recovery steps (restore + integrity checks [+ control plane]),
// measured by the drill. Achieved RPO = the drill's start minus the newest instant that is
// recoverable from the restore point the drill proved: its consistency time (completedAt), or,
// when the binlog archive reaches further from it without a gap, the end of that archive.
import type { CatalogEntry } from '../catalog/catalog.js';
import type { RecoverableRange } from '../pitr/segments.js';
import { targetBreaches, type DrillCheck, type DrillRecord, type DrillStep } from './record.js';
import type { RecordedTableFact, TableComparison, TableFact } from '../manifest/manifest.js';

/** The newest VERIFIED database restore point of the cloud in the repository's rows, or why there is none. */
export function pickDrillPoint(
  rows: readonly CatalogEntry[],
  cloud: string,
  drillHost: string,
): { point: CatalogEntry } | { problem: string } {
  const db = rows.filter((r) => r.cloud === cloud && r.component === 'database');
  // a point whose stored bytes a scrub found damaged is not one a drill should trust
  const good = db.filter((r) => r.verification === 'VERIFIED' && r.check !== 'CORRUPT' && r.check !== 'MISSING');
  const point = [...good].sort((a, b) => b.completedAt.localeCompare(a.completedAt) || b.id.localeCompare(a.id))[0];
  if (point) return { point };
  const how = `make one with \`osbackup restore db --cloud ${cloud} --to ${drillHost} --verify\` (or \`osbackup preflight --cloud ${cloud} --prove\`)`;
  if (!db.length)
    return {
      problem: `cloud ${cloud} has no database backup: take one (\`osbackup backup db --cloud ${cloud}\`), then ${how}`,
    };
  return {
    problem: `cloud ${cloud} has no VERIFIED database restore point (${db.length} backups, none proven by a restore): ${how}`,
  };
}

/**
 * The newest instant recoverable from `pointAt` (the restore point's consistency time) given
 * the archive's recoverable ranges: the end of the range that starts at or before the point
 * and reaches past it; else the point itself.
 */
export function newestRecoverable(
  pointAt: string,
  ranges: readonly Pick<RecoverableRange, 'from' | 'to'>[],
): { at: string; via: 'restore point' | 'binlog archive' } {
  const p = Date.parse(pointAt);
  // a range's `to` is a whole second that is included: its end is one second later
  const reach = ranges
    .filter((r) => Date.parse(r.from) <= p + 1000 && Date.parse(r.to) + 1000 > p)
    .map((r) => Date.parse(r.to) + 1000);
  const best = Math.max(p, ...reach);
  return best > p ? { at: new Date(best).toISOString(), via: 'binlog archive' } : { at: pointAt, via: 'restore point' };
}

/** Seconds of data a loss at `startedAt` would have cost: never negative (a clock a little ahead). */
export function achievedRpoSeconds(startedAt: string, newest: string): number {
  return Math.max(0, (Date.parse(startedAt) - Date.parse(newest)) / 1000);
}

/**
 * The integrity checks: the seed's SELECT COUNT(*) of `countTables` read on the drill host
 * against the counts the restore point recorded, and every recorded CHECKSUM TABLE as the
 * restore compared it. A count of a table the point did not record only proves the table is
 * readable (no expected value); a table written during the backup (unstable) has no single
 * true checksum and is not judged.
 */
export function drillChecks(
  countTables: readonly string[],
  recorded: readonly RecordedTableFact[],
  counted: readonly TableFact[],
  compared: readonly TableComparison[],
): DrillCheck[] {
  const rec = new Map(recorded.map((t) => [t.table, t]));
  const got = new Map(counted.map((t) => [t.table, t]));
  const out: DrillCheck[] = [];
  for (const t of countTables) {
    const r = rec.get(t);
    const a = got.get(t);
    const actual = a ? String(a.rows) : undefined;
    if (!r)
      out.push({
        name: `SELECT COUNT(*) FROM ${t}`,
        ok: a !== undefined,
        expected: 'not recorded (readable)',
        ...(actual !== undefined ? { actual } : { actual: 'unreadable' }),
      });
    else if (!r.stable)
      out.push({
        name: `SELECT COUNT(*) FROM ${t}`,
        ok: a !== undefined,
        expected: `${r.rows} (written during the backup: not judged)`,
        actual: actual ?? 'unreadable',
      });
    else
      out.push({
        name: `SELECT COUNT(*) FROM ${t}`,
        ok: a !== undefined && a.rows === r.rows,
        expected: String(r.rows),
        actual: actual ?? 'unreadable',
      });
  }
  for (const c of compared) {
    const name = `CHECKSUM TABLE ${c.table}`;
    if (c.outcome === 'unstable')
      out.push({
        name,
        ok: true,
        expected: `${c.expectedChecksum ?? '-'} (written during the backup: not judged)`,
        actual: c.actualChecksum ?? '-',
      });
    else
      out.push({
        name,
        ok: c.outcome === 'equal',
        expected: c.expectedChecksum ?? '-',
        actual: c.outcome === 'missing' ? 'missing' : (c.actualChecksum ?? '-'),
      });
  }
  return out;
}

export interface DrillRecordInput {
  id: string;
  cloud: string;
  workflowId: string;
  startedAt: string;
  completedAt: string;
  restorePoint: DrillRecord['restorePoint'];
  steps: DrillStep[];
  newestRecoverableAt: string | null;
  targets: DrillRecord['targets'];
  checks: DrillCheck[];
}

/**
 * The record of a finished drill: RTO from the first step's start to the last one's end (the
 * time a real recovery of the same data would take), RPO against the drill's start, and every
 * failed step, failed check and breached target as a sentence.
 */
export function drillRecord(x: DrillRecordInput): DrillRecord {
  const timed = x.steps.filter((s) => s.result !== 'skipped');
  const rtoSeconds = timed.length
    ? Math.max(0, (Date.parse(timed.at(-1)!.completedAt) - Date.parse(timed[0]!.startedAt)) / 1000)
    : 0;
  const rpoSeconds = x.newestRecoverableAt ? achievedRpoSeconds(x.startedAt, x.newestRecoverableAt) : null;
  const failedSteps = x.steps
    .filter((s) => s.result === 'failed')
    .map((s) => `step ${s.name} failed${s.detail ? `: ${s.detail}` : ''}`);
  const failedChecks = x.checks
    .filter((c) => !c.ok)
    .map((c) => `check ${c.name} failed: expected ${c.expected ?? '-'}, got ${c.actual ?? '-'}`);
  // a drill that did not finish measured no RTO worth comparing
  const breaches = [
    ...failedSteps,
    ...failedChecks,
    ...(failedSteps.length ? [] : targetBreaches({ rtoSeconds, rpoSeconds, targets: x.targets })),
  ];
  return {
    formatVersion: 1,
    kind: 'drill',
    id: x.id,
    cloud: x.cloud,
    workflowId: x.workflowId,
    startedAt: x.startedAt,
    completedAt: x.completedAt,
    restorePoint: x.restorePoint,
    steps: x.steps,
    rtoSeconds,
    rpoSeconds,
    targets: x.targets,
    checks: x.checks,
    result: breaches.length ? 'failed' : 'passed',
    breaches,
  };
}

/** drill-20261206T060000Z: sortable, one per start second (drills live under their cloud). */
export function drillId(at: string): string {
  return `drill-${at.replace(/[-:]/g, '').replace(/\.\d{3}/, '')}`;
}

const secs = (n: number | null) => (n === null ? '-' : `${n.toFixed(1)} s`);
const target = (n: number | null) => (n === null ? 'none set' : `${n} s`);
const cell = (s: string | undefined) => (s ?? '-').replace(/\|/g, '\\|');

/** The drill's REPORT.md: for people reading the repository, without osbackup. */
export function renderDrillReport(r: DrillRecord): string {
  const verdict = r.result === 'passed' ? 'PASSED' : 'FAILED';
  const lines = [
    `# DR ${r.kind} ${r.id} — ${verdict}`,
    '',
    `- cloud: ${r.cloud}`,
    `- workflow: ${r.workflowId}`,
    `- started: ${r.startedAt}, completed: ${r.completedAt}`,
    `- restore point: ${r.restorePoint.id} (${r.restorePoint.component}, consistent at ${r.restorePoint.completedAt}, ${r.restorePoint.verification})${r.restorePoint.pitrTarget ? `, point in time ${r.restorePoint.pitrTarget}` : ''}`,
    '',
    '## Objectives',
    '',
    '| | measured | target | met |',
    '|---|---|---|---|',
    `| RTO (restore + checks) | ${secs(r.rtoSeconds)} | ${target(r.targets.rtoSeconds)} | ${r.targets.rtoSeconds === null ? '-' : r.rtoSeconds <= r.targets.rtoSeconds ? 'yes' : '**no**'} |`,
    `| RPO (start − newest recoverable instant) | ${secs(r.rpoSeconds)} | ${target(r.targets.rpoSeconds)} | ${r.targets.rpoSeconds === null || r.rpoSeconds === null ? '-' : r.rpoSeconds <= r.targets.rpoSeconds ? 'yes' : '**no**'} |`,
    '',
    '## Steps',
    '',
    '| step | result | seconds | started | detail |',
    '|---|---|---|---|---|',
    ...r.steps.map((s) => `| ${s.name} | ${s.result} | ${s.seconds.toFixed(1)} | ${s.startedAt} | ${cell(s.detail)} |`),
    '',
    '## Integrity checks',
    '',
    ...(r.checks.length
      ? [
          '| check | ok | expected | actual |',
          '|---|---|---|---|',
          ...r.checks.map(
            (c) => `| ${cell(c.name)} | ${c.ok ? 'yes' : '**no**'} | ${cell(c.expected)} | ${cell(c.actual)} |`,
          ),
        ]
      : ['none ran (the restore did not complete)']),
    '',
  ];
  if (r.breaches.length) lines.push('## Breaches', '', ...r.breaches.map((b) => `- ${b}`), '');
  return lines.join('\n');
}
