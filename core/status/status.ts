// `osbackup status`, judged: per component the newest good restore point, the achieved RPO
// against its target, the last drill against its RTO target and its schedule, chain health and
// the binlog archiver's health. Pure: the client gathers the facts, this says what they mean,
// and every breach is a sentence (a non-empty list → a non-zero exit for monitoring and CI).
import type { Calendar, CalendarRange } from '../schedule/calendar.js';
import type { CatalogEntry } from '../catalog/catalog.js';
import type { DrillRecord } from '../dr/record.js';

export interface ArchiverFacts {
  /** The archive workflow is running (its status query answered). */
  running: boolean;
  caughtUpAt: string | null;
  achievedRpoSeconds: number | null;
}

export interface StatusInput {
  cloud: string;
  now: string;
  /** The repository's catalog rows of this cloud. */
  rows: CatalogEntry[];
  /** The cloud's drill (and rebuild) records, any order. */
  drills: DrillRecord[];
  /** null: no archiver answered (never started, or stopped). */
  archiver: ArchiverFacts | null;
  /** database.binlog.rpoTargetSeconds: what a running archiver is judged against. */
  binlogRpoTargetSeconds: number;
  /** The cloud's drill section, when it has one. */
  drill: {
    rtoTargetSeconds: number | null;
    rpoTargetSeconds: number | null;
    schedule: { enabled: boolean; calendar: Calendar } | null;
  } | null;
}

export interface PointRef {
  id: string;
  kind: string;
  completedAt: string;
  ageSeconds: number;
}

export interface ComponentStatus {
  component: string;
  /** Newest restore point re-read intact (CHECKED) whose chain is whole. */
  newestChecked: PointRef | null;
  /** Newest restore point proven by a restore (VERIFIED) whose chain is whole. */
  newestVerified: PointRef | null;
  /** Newest restore point at all (whatever its state). */
  newest: PointRef | null;
}

export interface RecoveryStatus {
  cloud: string;
  now: string;
  components: ComponentStatus[];
  rpo: {
    /** binlog archive: now − the archive's caught-up time; newest backup: now − the newest whole database restore point. */
    via: 'binlog archive' | 'newest backup' | 'none';
    achievedSeconds: number | null;
    targetSeconds: number | null;
    met: boolean | null;
  };
  drill: {
    configured: boolean;
    last: {
      id: string;
      completedAt: string;
      result: string;
      rtoSeconds: number;
      rpoSeconds: number | null;
      ageSeconds: number;
      breaches: string[];
    } | null;
    rtoTargetSeconds: number | null;
    /** Longest gap between two scheduled drills (null: no enabled schedule). */
    intervalSeconds: number | null;
    overdue: boolean;
  };
  chains: { broken: { id: string; reason: string }[] };
  archiver: { state: 'running' | 'lagging' | 'not running'; achievedRpoSeconds: number | null; targetSeconds: number };
  breaches: string[];
  ok: boolean;
}

const ageOf = (now: number, iso: string) => Math.max(0, (now - Date.parse(iso)) / 1000);
const ref = (now: number, r: CatalogEntry | undefined): PointRef | null =>
  r ? { id: r.id, kind: r.kind, completedAt: r.completedAt, ageSeconds: ageOf(now, r.completedAt) } : null;
const newestOf = (rows: CatalogEntry[]) =>
  [...rows].sort((a, b) => b.completedAt.localeCompare(a.completedAt) || b.id.localeCompare(a.id))[0];

/** Incrementals whose chain to a full backup is not whole in the rows (a parent missing, or itself unusable). */
export function brokenChains(rows: readonly CatalogEntry[]): { id: string; reason: string }[] {
  const db = rows.filter((r) => r.component === 'database');
  const byId = new Map(db.map((r) => [r.id, r]));
  const out: { id: string; reason: string }[] = [];
  for (const r of db) {
    let cur: CatalogEntry | undefined = r;
    const seen = new Set<string>();
    let reason: string | null = null;
    while (cur && cur.kind !== 'full') {
      if (seen.has(cur.id)) {
        reason = `${cur.id} is part of a cycle of parents`;
        break;
      }
      seen.add(cur.id);
      if (!cur.parentId) {
        reason = `incremental ${cur.id} names no parent`;
        break;
      }
      const parent = byId.get(cur.parentId);
      if (!parent) {
        reason = `incremental ${cur.id} needs ${cur.parentId}, which is missing`;
        break;
      }
      cur = parent;
    }
    // a member whose stored bytes are gone or damaged breaks every point built on it
    const bad = !reason ? chainMembers(byId, r).find((m) => m.check === 'CORRUPT' || m.check === 'MISSING') : undefined;
    if (bad) reason = `${bad.id} is ${bad.check}`;
    if (reason) out.push({ id: r.id, reason });
  }
  return out;
}

function chainMembers(byId: Map<string, CatalogEntry>, r: CatalogEntry): CatalogEntry[] {
  const out: CatalogEntry[] = [];
  for (
    let cur: CatalogEntry | undefined = r;
    cur && out.length <= byId.size;
    cur = cur.parentId ? byId.get(cur.parentId) : undefined
  ) {
    out.push(cur);
    if (cur.kind === 'full') break;
  }
  return out;
}

const inRanges = (v: number, rs: CalendarRange[] | undefined) =>
  !rs || rs.some((r) => v >= r.start && v <= r.end && (v - r.start) % r.step === 0);

/**
 * The longest gap between two consecutive runs of a calendar over a year from `fromMs` (UTC
 * wall clock: a time zone shifts runs, not the gaps between them, by more than an hour only at
 * clock changes). Null when it never fires.
 */
export function calendarIntervalSeconds(c: Calendar, fromMs: number): number | null {
  const fires: number[] = [];
  const day0 = Math.floor(fromMs / 86_400_000) * 86_400_000;
  for (let d = 0; d < 400; d++) {
    const t = new Date(day0 + d * 86_400_000);
    if (
      !inRanges(t.getUTCDay(), c.dayOfWeek) ||
      !inRanges(t.getUTCDate(), c.dayOfMonth) ||
      !inRanges(t.getUTCMonth() + 1, c.month)
    )
      continue;
    for (let h = 0; h < 24; h++) {
      if (!inRanges(h, c.hour)) continue;
      for (let m = 0; m < 60; m++) if (inRanges(m, c.minute)) fires.push(t.getTime() + (h * 60 + m) * 60_000);
    }
  }
  if (fires.length < 2) return null;
  let gap = 0;
  for (let i = 1; i < fires.length; i++) gap = Math.max(gap, fires[i]! - fires[i - 1]!);
  return gap / 1000;
}

export function recoveryStatus(x: StatusInput): RecoveryStatus {
  const now = Date.parse(x.now);
  const rows = x.rows.filter((r) => r.cloud === x.cloud);
  const broken = brokenChains(rows);
  const brokenIds = new Set(broken.map((b) => b.id));
  const whole = (r: CatalogEntry) => !brokenIds.has(r.id) && r.check !== 'CORRUPT' && r.check !== 'MISSING';
  const breaches: string[] = [];

  // binlog segments are not restore points on their own: they extend the database's
  const components = [...new Set(rows.filter((r) => r.component !== 'binlog').map((r) => r.component))]
    .sort()
    .map((component): ComponentStatus => {
      const mine = rows.filter((r) => r.component === component);
      return {
        component,
        newestChecked: ref(now, newestOf(mine.filter((r) => whole(r) && r.check === 'CHECKED'))),
        newestVerified: ref(now, newestOf(mine.filter((r) => whole(r) && r.verification === 'VERIFIED'))),
        newest: ref(now, newestOf(mine)),
      };
    });

  // the archiver: running and within its target, lagging behind it, or not running
  const a = x.archiver;
  const lagging = !!a?.running && (a.achievedRpoSeconds === null || a.achievedRpoSeconds > x.binlogRpoTargetSeconds);
  const archiver = {
    state: !a?.running ? ('not running' as const) : lagging ? ('lagging' as const) : ('running' as const),
    achievedRpoSeconds: a?.achievedRpoSeconds ?? null,
    targetSeconds: x.binlogRpoTargetSeconds,
  };
  if (lagging)
    breaches.push(
      a!.achievedRpoSeconds === null
        ? `the binlog archiver of cloud ${x.cloud} runs but has not caught up yet`
        : `the binlog archiver of cloud ${x.cloud} lags: achieved RPO ${a!.achievedRpoSeconds.toFixed(1)} s exceeds the target ${x.binlogRpoTargetSeconds} s`,
    );

  // achieved RPO: with a running archiver its caught-up time, else the newest whole database backup
  let rpo: RecoveryStatus['rpo'];
  const newestDb = newestOf(rows.filter((r) => r.component === 'database' && whole(r)));
  if (a?.running && a.achievedRpoSeconds !== null)
    rpo = {
      via: 'binlog archive',
      achievedSeconds: a.achievedRpoSeconds,
      targetSeconds: x.binlogRpoTargetSeconds,
      met: a.achievedRpoSeconds <= x.binlogRpoTargetSeconds,
    };
  else {
    // without archiving the binlog target does not apply; the drill's RPO target is the cloud's statement
    const target = x.drill?.rpoTargetSeconds ?? null;
    const achieved = newestDb ? ageOf(now, newestDb.completedAt) : null;
    rpo = {
      via: newestDb ? 'newest backup' : 'none',
      achievedSeconds: achieved,
      targetSeconds: target,
      met: target === null ? null : achieved !== null && achieved <= target,
    };
    if (target !== null && achieved === null)
      breaches.push(
        `cloud ${x.cloud} has no whole database restore point: nothing is recoverable (RPO target ${target} s)`,
      );
    else if (target !== null && achieved! > target)
      breaches.push(
        `achieved RPO ${achieved!.toFixed(1)} s (newest database backup ${newestDb!.id}) exceeds the target ${target} s`,
      );
  }

  for (const b of broken) breaches.push(`restore point ${b.id} is broken: ${b.reason}`);

  // the last drill: its verdict, its RTO against the target, and whether the next one is overdue
  const drills = x.drills
    .filter((d) => d.cloud === x.cloud && d.kind === 'drill')
    .sort((p, q) => q.completedAt.localeCompare(p.completedAt));
  const last = drills[0];
  const interval = x.drill?.schedule?.enabled ? calendarIntervalSeconds(x.drill.schedule.calendar, now) : null;
  const lastAge = last ? ageOf(now, last.completedAt) : null;
  const overdue = !!x.drill && interval !== null && (lastAge === null || lastAge > interval);
  const rtoTarget = x.drill?.rtoTargetSeconds ?? null;
  if (last && last.result === 'failed')
    breaches.push(`the last drill ${last.id} FAILED: ${last.breaches.join('; ') || 'see its report'}`);
  else if (last && rtoTarget !== null && last.rtoSeconds > rtoTarget)
    breaches.push(
      `the last drill ${last.id} took ${last.rtoSeconds.toFixed(1)} s, more than the RTO target ${rtoTarget} s`,
    );
  if (overdue)
    breaches.push(
      last
        ? `the last drill ${last.id} is ${(lastAge! / 86_400).toFixed(1)} days old, older than the drill schedule's interval (${(interval! / 86_400).toFixed(1)} days): a drill is overdue`
        : `cloud ${x.cloud} has a drill schedule but no drill has run yet: run \`osbackup dr drill --cloud ${x.cloud}\``,
    );

  return {
    cloud: x.cloud,
    now: x.now,
    components,
    rpo,
    drill: {
      configured: !!x.drill,
      last: last
        ? {
            id: last.id,
            completedAt: last.completedAt,
            result: last.result,
            rtoSeconds: last.rtoSeconds,
            rpoSeconds: last.rpoSeconds,
            ageSeconds: lastAge!,
            breaches: last.breaches,
          }
        : null,
      rtoTargetSeconds: rtoTarget,
      intervalSeconds: interval,
      overdue,
    },
    chains: { broken },
    archiver,
    breaches,
    ok: breaches.length === 0,
  };
}

const s = (n: number | null) =>
  n === null
    ? '-'
    : n < 120
      ? `${n.toFixed(1)} s`
      : n < 7200
        ? `${(n / 60).toFixed(1)} min`
        : n < 172_800
          ? `${(n / 3600).toFixed(1)} h`
          : `${(n / 86_400).toFixed(1)} d`;

/** The status as text for people. */
export function recoveryStatusText(r: RecoveryStatus): string {
  const pt = (p: PointRef | null) => (p ? `${p.id} (${s(p.ageSeconds)} ago)` : 'none');
  const lines = [`${r.cloud}: recovery status at ${r.now}`];
  for (const c of r.components)
    lines.push(
      `  ${c.component.padEnd(14)} VERIFIED ${pt(c.newestVerified)} · CHECKED ${pt(c.newestChecked)} · newest ${pt(c.newest)}`,
    );
  if (!r.components.length) lines.push('  no restore points yet');
  lines.push(
    `  RPO           ${s(r.rpo.achievedSeconds)} via ${r.rpo.via} (target ${r.rpo.targetSeconds === null ? 'none' : `${r.rpo.targetSeconds} s`}${r.rpo.met === null ? '' : r.rpo.met ? ': met' : ': MISSED'})`,
  );
  const d = r.drill;
  lines.push(
    `  drill         ${!d.configured ? 'no drill section' : d.last ? `${d.last.id} ${d.last.result.toUpperCase()}, RTO ${s(d.last.rtoSeconds)} (target ${d.rtoTargetSeconds === null ? 'none' : `${d.rtoTargetSeconds} s`}), ${s(d.last.ageSeconds)} ago${d.overdue ? ' — OVERDUE' : ''}` : `never run${d.overdue ? ' — OVERDUE' : ''}`}`,
  );
  lines.push(`  chains        ${r.chains.broken.length ? `${r.chains.broken.length} broken` : 'whole'}`);
  lines.push(
    `  archiver      ${r.archiver.state}${r.archiver.achievedRpoSeconds === null ? '' : `, achieved RPO ${s(r.archiver.achievedRpoSeconds)} (target ${r.archiver.targetSeconds} s)`}`,
  );
  lines.push(
    r.breaches.length
      ? `BREACHED (${r.breaches.length}):\n${r.breaches.map((b) => `  - ${b}`).join('\n')}`
      : 'all targets met',
  );
  return lines.join('\n') + '\n';
}
