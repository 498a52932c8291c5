// What /metrics shows, computed from what the repository and the targets hold (catalog rows,
// run journals, drill records, binlog archive progress, target sizes) — never from counters kept
// in the worker's memory, so a restarted worker shows the same values. Pure: the worker's
// collector (worker/metrics.ts) gathers the inputs, unit tests feed their own.
import type { Calendar, CalendarRange } from '../schedule/calendar.js';
import { growthPerDay, untilFull } from '../capacity/capacity.js';
import type { CatalogEntry } from '../catalog/catalog.js';
import type { DrillRecord } from '../dr/record.js';
import type { RunJournal } from '../tiers/run-journal.js';

export type MetricType = 'gauge' | 'counter';

/** Every metric osbackup exports: name → type, help and label names (docs/monitoring.md's table follows this). */
export const METRICS = {
  osbackup_last_success_timestamp_seconds: {
    type: 'gauge',
    labels: ['cloud', 'component', 'tier', 'target'],
    help: 'Completion time of the newest artifact of the tier on the target (Unix seconds); 0 = the tier has none there',
  },
  osbackup_last_duration_seconds: {
    type: 'gauge',
    labels: ['cloud', 'component', 'tier', 'target'],
    help: 'How long the newest artifact of the tier took (start to completion)',
  },
  osbackup_last_bytes: {
    type: 'gauge',
    labels: ['cloud', 'component', 'tier', 'target'],
    help: 'Stored (compressed, encrypted) bytes of the newest artifact of the tier',
  },
  osbackup_verification_state: {
    type: 'gauge',
    labels: ['cloud', 'component', 'tier', 'target', 'state'],
    help: 'Verification state of the newest artifact of the tier: 1 for its state (VERIFIED, FAILED, UNVERIFIED), 0 for the others',
  },
  osbackup_last_verified_timestamp_seconds: {
    type: 'gauge',
    labels: ['cloud', 'component', 'tier', 'target'],
    help: 'Completion time of the newest artifact of the tier that a restore proof VERIFIED; 0 = none',
  },
  osbackup_artifacts: {
    type: 'gauge',
    labels: ['cloud', 'component', 'target'],
    help: 'Artifacts kept on the target (every kind of the component)',
  },
  osbackup_stored_bytes: {
    type: 'gauge',
    labels: ['cloud', 'component', 'target'],
    help: 'Bytes of the artifacts kept on the target',
  },
  osbackup_schedule_interval_seconds: {
    type: 'gauge',
    labels: ['cloud', 'tier'],
    help: "Longest gap between two runs of the tier's schedule (from its calendar); absent when the entry is disabled",
  },
  osbackup_tier_run_failures_total: {
    type: 'counter',
    labels: ['cloud', 'tier'],
    help: 'Scheduled tier runs that did not complete (failed, timed out, terminated, cancelled), from the run journal',
  },
  osbackup_tier_run_last_failure_timestamp_seconds: {
    type: 'gauge',
    labels: ['cloud', 'tier'],
    help: 'When the newest failed tier run ended (Unix seconds); 0 = never',
  },
  osbackup_tier_run_last_success_timestamp_seconds: {
    type: 'gauge',
    labels: ['cloud', 'tier'],
    help: 'When the newest successful tier run ended (Unix seconds); 0 = never',
  },
  osbackup_tier_run_last_duration_seconds: {
    type: 'gauge',
    labels: ['cloud', 'tier'],
    help: 'Wall time of the newest successful tier run, copies included',
  },
  osbackup_binlog_archived_through_timestamp_seconds: {
    type: 'gauge',
    labels: ['cloud', 'host'],
    help: 'Server time up to which the binlog archive holds every event (Unix seconds)',
  },
  osbackup_rpo_achieved_seconds: {
    type: 'gauge',
    labels: ['cloud'],
    help: 'Achieved RPO at collection time: now minus the time the binlog archive last held every event',
  },
  osbackup_rpo_target_seconds: {
    type: 'gauge',
    labels: ['cloud'],
    help: 'The configured RPO target (clouds.<c>.database.binlog.rpoTargetSeconds)',
  },
  osbackup_drill_last_timestamp_seconds: {
    type: 'gauge',
    labels: ['cloud', 'kind'],
    help: 'When the newest DR drill (or rebuild) completed (Unix seconds); 0 = never',
  },
  osbackup_drill_last_rto_seconds: {
    type: 'gauge',
    labels: ['cloud', 'kind'],
    help: 'RTO the newest drill measured (first step start to last step end)',
  },
  osbackup_drill_last_rpo_seconds: { type: 'gauge', labels: ['cloud', 'kind'], help: 'RPO the newest drill measured' },
  osbackup_drill_rto_target_seconds: {
    type: 'gauge',
    labels: ['cloud', 'kind'],
    help: 'RTO target the newest drill was held to',
  },
  osbackup_drill_last_passed: {
    type: 'gauge',
    labels: ['cloud', 'kind'],
    help: '1 when the newest drill passed, 0 when it failed (a step, a check or a target)',
  },
  osbackup_drill_max_age_seconds: {
    type: 'gauge',
    labels: ['cloud'],
    help: 'A drill older than this is overdue (metrics.drillMaxAgeDays)',
  },
  osbackup_target_up: {
    type: 'gauge',
    labels: ['target'],
    help: '1 when the target could be listed at the last collection',
  },
  osbackup_target_capacity_bytes: {
    type: 'gauge',
    labels: ['target'],
    help: "Size of the target (capacityGiB, else the filesystem's); absent when unknown (S3 without capacityGiB)",
  },
  osbackup_target_free_bytes: { type: 'gauge', labels: ['target'], help: 'Free bytes of the target' },
  osbackup_target_growth_bytes_per_day: {
    type: 'gauge',
    labels: ['target'],
    help: 'Rate at which kept bytes arrive on the target (least-squares slope, core/capacity/capacity.ts)',
  },
  osbackup_target_days_until_full: {
    type: 'gauge',
    labels: ['target'],
    help: 'Free bytes over the growth rate; absent when the size is unknown or the target is not growing',
  },
  osbackup_metrics_collected_timestamp_seconds: {
    type: 'gauge',
    labels: [],
    help: 'When these values were collected (scrapes inside metrics.cacheSeconds are served from memory)',
  },
  osbackup_metrics_collect_duration_seconds: { type: 'gauge', labels: [], help: 'How long the last collection took' },
  osbackup_metrics_collect_errors: {
    type: 'gauge',
    labels: [],
    help: 'Sources that could not be read at the last collection (targets, Temporal); see the worker log',
  },
} as const satisfies Record<string, { type: MetricType; labels: readonly string[]; help: string }>;
export type MetricName = keyof typeof METRICS;

export interface Sample {
  name: MetricName;
  labels: Record<string, string>;
  value: number;
}

export const TIER_NAMES = ['daily', 'weekly', 'monthly', 'control-plane', 'dump'] as const;
export type TierName = (typeof TIER_NAMES)[number];

/** The component a tier backs up. */
export const tierComponent = (tier: TierName) => (tier === 'control-plane' || tier === 'dump' ? tier : 'database');

/**
 * Whether a catalog row is a backup of the tier: any database restore point satisfies "daily"
 * (a full taken by hand is as good as the night's incremental), only fulls satisfy weekly and
 * monthly (monthly = the promoted weekly full), control-plane backups the control-plane tier.
 * Safety copies taken before a restore and vanished (MISSING) rows never count.
 */
export function rowOfTier(tier: TierName, r: CatalogEntry): boolean {
  if (r.check === 'MISSING') return false;
  if (tier === 'control-plane') return r.component === 'control-plane' && r.kind !== 'pre-restore';
  if (tier === 'dump') return r.component === 'dump';
  if (r.component !== 'database') return false;
  return tier === 'daily' ? r.kind === 'full' || r.kind === 'incremental' : r.kind === 'full';
}

// ---- schedule intervals -------------------------------------------------------------------------

function values(ranges: readonly CalendarRange[] | undefined, min: number, max: number): Set<number> {
  const out = new Set<number>();
  for (const r of ranges ?? [{ start: min, end: max, step: 1 }])
    for (let v = r.start; v <= r.end; v += r.step) out.add(v);
  return out;
}

/**
 * The longest gap between two consecutive runs of a calendar, in seconds, over two years (leap
 * day included) in UTC: what "a backup is missing" must wait for. Time-zone shifts (an hour at
 * a DST change) are left to the alert's grace. null when the calendar never fires.
 */
export function calendarMaxGapSeconds(c: Calendar): number | null {
  const minutes = [...values(c.hour, 0, 23)]
    .flatMap((h) => [...values(c.minute, 0, 59)].map((m) => h * 60 + m))
    .sort((a, b) => a - b);
  if (!minutes.length) return null;
  const dom = values(c.dayOfMonth, 1, 31);
  const mon = values(c.month, 1, 12);
  const dow = values(c.dayOfWeek, 0, 6);
  const start = Date.UTC(2024, 0, 1) / 86_400_000;
  const days: number[] = [];
  for (let d = start; d < start + 731; d++) {
    const t = new Date(d * 86_400_000);
    if (dom.has(t.getUTCDate()) && mon.has(t.getUTCMonth() + 1) && dow.has(t.getUTCDay())) days.push(d);
  }
  if (!days.length) return null;
  let gap = 0;
  for (let i = 1; i < minutes.length; i++) gap = Math.max(gap, minutes[i]! - minutes[i - 1]!);
  const wrap = minutes[0]! + 1440 - minutes.at(-1)!;
  if (days.length === 1) return null;
  for (let i = 1; i < days.length; i++) gap = Math.max(gap, (days[i]! - days[i - 1]! - 1) * 1440 + wrap);
  return gap * 60;
}

// ---- the snapshot -----------------------------------------------------------------------------

export interface CloudMetricsInput {
  name: string;
  /** Tiers the cloud runs: the targets their artifacts must reach, and their schedule's longest gap (null: not scheduled). */
  tiers: { tier: TierName; targets: string[]; intervalSeconds: number | null }[];
  rpoTargetSeconds: number;
}

export interface MetricsInput {
  nowMs: number;
  clouds: CloudMetricsInput[];
  /** Catalog rows of every target that could be read. */
  rows: CatalogEntry[];
  targets: { name: string; up: boolean; totalBytes: number | null; freeBytes: number | null }[];
  journals: RunJournal[];
  drills: DrillRecord[];
  /** Per cloud and host: server time up to which the archive holds every event. */
  binlog: { cloud: string; host: string; archivedThrough: string }[];
  drillMaxAgeSeconds: number;
}

const sec = (iso: string | null | undefined) => (iso ? Date.parse(iso) / 1000 : 0);

export function metricSamples(input: MetricsInput): Sample[] {
  const out: Sample[] = [];
  const add = (name: MetricName, labels: Record<string, string>, value: number) => {
    if (Number.isFinite(value)) out.push({ name, labels, value });
  };
  const up = new Set(input.targets.filter((t) => t.up).map((t) => t.name));

  for (const c of input.clouds) {
    const rows = input.rows.filter((r) => r.cloud === c.name);
    for (const t of c.tiers) {
      const component = tierComponent(t.tier);
      if (t.intervalSeconds !== null)
        add('osbackup_schedule_interval_seconds', { cloud: c.name, tier: t.tier }, t.intervalSeconds);
      for (const target of t.targets) {
        // a target that could not be read says nothing (osbackup_target_up says why), rather than "never"
        if (!up.has(target)) continue;
        const labels = { cloud: c.name, component, tier: t.tier, target };
        const mine = rows
          .filter((r) => r.target === target && rowOfTier(t.tier, r))
          .sort((a, b) => a.completedAt.localeCompare(b.completedAt));
        const last = mine.at(-1);
        add('osbackup_last_success_timestamp_seconds', labels, sec(last?.completedAt));
        add(
          'osbackup_last_verified_timestamp_seconds',
          labels,
          sec(mine.filter((r) => r.verification === 'VERIFIED').at(-1)?.completedAt),
        );
        if (!last) continue;
        add('osbackup_last_duration_seconds', labels, Math.max(0, sec(last.completedAt) - sec(last.startedAt)));
        add('osbackup_last_bytes', labels, last.bytes);
        for (const state of ['VERIFIED', 'FAILED', 'UNVERIFIED'])
          add('osbackup_verification_state', { ...labels, state }, last.verification === state ? 1 : 0);
      }
      const j = input.journals.find((x) => x.cloud === c.name && x.tier === t.tier);
      add('osbackup_tier_run_failures_total', { cloud: c.name, tier: t.tier }, j?.failuresTotal ?? 0);
      add('osbackup_tier_run_last_failure_timestamp_seconds', { cloud: c.name, tier: t.tier }, sec(j?.lastFailure?.at));
      add('osbackup_tier_run_last_success_timestamp_seconds', { cloud: c.name, tier: t.tier }, sec(j?.lastSuccess?.at));
      if (j?.lastSuccess)
        add(
          'osbackup_tier_run_last_duration_seconds',
          { cloud: c.name, tier: t.tier },
          sec(j.lastSuccess.at) - sec(j.lastSuccess.startedAt),
        );
    }

    const groups = new Map<string, CatalogEntry[]>();
    for (const r of rows) {
      if (r.check === 'MISSING') continue;
      const k = `${r.component}\u0000${r.target}`;
      (groups.get(k) ?? groups.set(k, []).get(k)!).push(r);
    }
    for (const list of groups.values()) {
      const labels = { cloud: c.name, component: list[0]!.component, target: list[0]!.target };
      add('osbackup_artifacts', labels, list.length);
      add(
        'osbackup_stored_bytes',
        labels,
        list.reduce((n, r) => n + r.bytes, 0),
      );
    }

    add('osbackup_rpo_target_seconds', { cloud: c.name }, c.rpoTargetSeconds);
    const archived = input.binlog.filter((b) => b.cloud === c.name);
    const hosts = new Map<string, number>();
    for (const b of archived) hosts.set(b.host, Math.max(hosts.get(b.host) ?? 0, sec(b.archivedThrough)));
    for (const [host, through] of hosts)
      add('osbackup_binlog_archived_through_timestamp_seconds', { cloud: c.name, host }, through);
    if (hosts.size)
      add(
        'osbackup_rpo_achieved_seconds',
        { cloud: c.name },
        Math.max(0, input.nowMs / 1000 - Math.max(...hosts.values())),
      );

    add('osbackup_drill_max_age_seconds', { cloud: c.name }, input.drillMaxAgeSeconds);
    for (const kind of ['drill', 'rebuild'] as const) {
      const last = input.drills
        .filter((d) => d.cloud === c.name && d.kind === kind)
        .sort((a, b) => a.completedAt.localeCompare(b.completedAt))
        .at(-1);
      // "never drilled" is a value (0) so the overdue alert fires; never rebuilt is nothing to report
      if (!last) {
        if (kind === 'drill') add('osbackup_drill_last_timestamp_seconds', { cloud: c.name, kind }, 0);
        continue;
      }
      const labels = { cloud: c.name, kind };
      add('osbackup_drill_last_timestamp_seconds', labels, sec(last.completedAt));
      add('osbackup_drill_last_rto_seconds', labels, last.rtoSeconds);
      if (last.rpoSeconds !== null) add('osbackup_drill_last_rpo_seconds', labels, last.rpoSeconds);
      if (last.targets?.rtoSeconds != null) add('osbackup_drill_rto_target_seconds', labels, last.targets.rtoSeconds);
      add('osbackup_drill_last_passed', labels, last.result === 'passed' ? 1 : 0);
    }
  }

  for (const t of input.targets) {
    add('osbackup_target_up', { target: t.name }, t.up ? 1 : 0);
    if (t.totalBytes !== null) add('osbackup_target_capacity_bytes', { target: t.name }, t.totalBytes);
    if (t.freeBytes !== null) add('osbackup_target_free_bytes', { target: t.name }, t.freeBytes);
    if (!t.up) continue;
    // every cloud's artifacts fill the target (the catalog rows' sealed bytes; `osbackup capacity` also counts records)
    const growth = growthPerDay(input.rows.filter((r) => r.target === t.name && r.check !== 'MISSING'));
    if (growth !== null) add('osbackup_target_growth_bytes_per_day', { target: t.name }, growth);
    const full = untilFull(t.freeBytes, growth, new Date(input.nowMs));
    if (full.daysUntilFull !== null) add('osbackup_target_days_until_full', { target: t.name }, full.daysUntilFull);
  }
  return out;
}
