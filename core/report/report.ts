// What `osbackup report` shows, computed from the catalog rows, the drill records and the
// capacity scan of one cloud. Pure: the client renders the model as HTML (inline SVG) and
// Markdown (client/report/); tests feed it fixtures of the same types.
import type { CatalogEntry } from '../catalog/catalog.js';
import type { TargetCapacity } from '../capacity/capacity.js';
import { DAY_MS, FORECAST_DAYS } from '../capacity/capacity.js';
import type { DrillRecord } from '../dr/record.js';

export interface ReportSettings {
  /** A gap between database restore points longer than this breaches the backup RPO. */
  backupRpoTargetSeconds: number;
  /** The binlog archive's RPO target (clouds.<c>.database.binlog.rpoTargetSeconds). */
  binlogRpoTargetSeconds: number;
  drillMaxAgeDays: number;
  /** Days the calendar and the charts cover, ending on the report's day. */
  days: number;
}

export interface ReportInput {
  cloud: string;
  generatedAt: string;
  /** The repository's target name: its rows stand for an artifact; other targets hold copies. */
  repository: string;
  rows: CatalogEntry[];
  unavailableTargets: { target: string; reason: string }[];
  drills: DrillRecord[];
  capacity: TargetCapacity[];
  capacityFailed: { target: string; error: string }[];
  settings: ReportSettings;
}

/** Worst first: a day's cell takes the worst state of its artifacts. */
export const CELL_STATES = ['failed', 'unverified', 'checked', 'verified'] as const;
export type CellState = (typeof CELL_STATES)[number];

export interface CalendarCell {
  day: string;
  count: number;
  bytes: number;
  state: CellState | null;
  ids: string[];
}
export interface CalendarLane {
  lane: string;
  cells: CalendarCell[];
}
export interface Calendar {
  days: string[];
  lanes: CalendarLane[];
}

/** t: epoch ms. */
export interface Point {
  t: number;
  v: number;
  label?: string;
}
export interface Series {
  name: string;
  points: Point[];
}

export type BreachKind =
  | 'verification-failed'
  | 'corrupt'
  | 'missing'
  | 'backup-rpo'
  | 'binlog-rpo'
  | 'drill-failed'
  | 'drill-overdue'
  | 'unreadable'
  | 'capacity';
export interface Breach {
  kind: BreachKind;
  subject: string;
  since: string | null;
  message: string;
}

export interface ForecastView {
  target: string;
  type: string;
  location: string;
  totalBytes: number | null;
  freeBytes: number | null;
  storedBytes: number;
  growthBytesPerDay: number | null;
  forecast30dBytes: number | null;
  daysUntilFull: number | null;
  fullAt: string | null;
  note: string | null;
  /** This cloud's bytes on the target over time (cumulative over the rows still stored). */
  history: Point[];
  /** The target (all clouds) now and in FORECAST_DAYS days; empty without a growth rate. */
  projection: Point[];
  /** Days between this cloud's oldest and newest artifact on the target: a growth rate from less than a day is noise. */
  historyDays: number;
}

/** Below this much history a forecast is shown but raises no breach. */
export const MIN_FORECAST_HISTORY_DAYS = 1;

function historyDays(rows: readonly CatalogEntry[], target: string): number {
  const ts = rows.filter((r) => r.target === target).map((r) => Date.parse(r.completedAt));
  return ts.length ? (Math.max(...ts) - Math.min(...ts)) / DAY_MS : 0;
}

export interface ReportModel {
  cloud: string;
  generatedAt: string;
  settings: ReportSettings;
  window: { from: number; to: number };
  summary: {
    artifacts: number;
    restorePoints: number;
    newestRestorePoint: string | null;
    storedBytes: number;
    verified: number;
    drills: number;
    lastDrill: DrillRecord | null;
    breaches: number;
  };
  calendar: Calendar;
  sizes: Series[];
  rpo: { backups: Series[]; binlog: Series[] };
  drills: DrillRecord[];
  breaches: Breach[];
  forecast: ForecastView[];
  notes: string[];
}

const TIER_NAMES = ['daily', 'weekly', 'monthly', 'control-plane'];

/**
 * The tier that took an artifact, from its run's workflow id: a schedule's run is
 * `<cloud>-<tier>-<time>` (its children add `-db`/`-cp`); a CLI run is `<what>:<cloud>:<time>`.
 */
export function tierOf(cloud: string, workflowId: string | undefined): string | null {
  if (!workflowId) return null;
  for (const t of TIER_NAMES) if (workflowId.startsWith(`${cloud}-${t}-`)) return t;
  const what = /^[a-z][a-z-]*:/.test(workflowId) ? workflowId.split(':')[0]! : '';
  if (what.startsWith('backup') || what === 'dump') return 'manual';
  if (what.startsWith('import')) return 'imported';
  if (what.startsWith('restore')) return 'pre-restore';
  return what || null;
}

const COMPONENT_ORDER = ['database', 'binlog', 'control-plane', 'dump', 'image'];
const componentRank = (c: string) =>
  COMPONENT_ORDER.includes(c) ? COMPONENT_ORDER.indexOf(c) : COMPONENT_ORDER.length;

/** The calendar row an artifact counts in: database rows by tier (else kind), binlog as one row. */
export function laneOf(cloud: string, r: CatalogEntry): string {
  if (r.component === 'binlog') return 'binlog';
  if (r.component === 'dump') return 'dump';
  const tier = r.imported ? 'imported' : tierOf(cloud, r.workflowId);
  if (r.component === 'database') return `database · ${tier ? `${tier} ` : ''}${r.kind}`;
  const what = tier ?? r.kind;
  return what === r.component ? r.component : `${r.component} · ${what}`;
}

export function stateOf(rows: readonly CatalogEntry[]): CellState {
  if (rows.some((r) => r.verification === 'FAILED' || r.check === 'CORRUPT' || r.check === 'MISSING')) return 'failed';
  if (rows.some((r) => r.verification === 'VERIFIED')) return 'verified';
  if (rows.some((r) => r.check === 'CHECKED')) return 'checked';
  return 'unverified';
}

/** Still a restore point: no failed proof, and at least one target holds it intact. */
export function usable(rows: readonly CatalogEntry[]): boolean {
  return (
    !rows.some((r) => r.verification === 'FAILED') && rows.some((r) => r.check !== 'CORRUPT' && r.check !== 'MISSING')
  );
}

/** Database restore points whose whole chain (every parent up to the full) is usable. */
export function usableRestorePoints(arts: ReturnType<typeof artifacts>): ReturnType<typeof artifacts> {
  const db = new Map(arts.filter(({ row }) => row.component === 'database').map((a) => [a.row.id, a]));
  const memo = new Map<string, boolean>();
  const ok = (id: string, depth = 0): boolean => {
    if (memo.has(id)) return memo.get(id)!;
    const a = db.get(id);
    // a missing parent (or a cycle, which no chain has) breaks the chain
    const r = !!a && depth < 10_000 && usable(a.all) && (a.row.parentId === null || ok(a.row.parentId, depth + 1));
    memo.set(id, r);
    return r;
  };
  return [...db.values()].filter((a) => ok(a.row.id));
}

const worst = (a: CellState | null, b: CellState): CellState =>
  a === null || CELL_STATES.indexOf(b) < CELL_STATES.indexOf(a) ? b : a;
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const key = (r: CatalogEntry) => `${r.component}\u0000${r.id}`;

/** One entry per artifact: the repository's row (else the first copy's), with every target's rows for its state. */
export function artifacts(
  rows: readonly CatalogEntry[],
  repository: string,
): { row: CatalogEntry; all: CatalogEntry[] }[] {
  const by = new Map<string, CatalogEntry[]>();
  for (const r of rows) (by.get(key(r)) ?? by.set(key(r), []).get(key(r))!).push(r);
  return [...by.values()]
    .map((all) => ({ row: all.find((r) => r.target === repository) ?? all[0]!, all }))
    .sort((a, b) => a.row.completedAt.localeCompare(b.row.completedAt) || a.row.id.localeCompare(b.row.id));
}

export function calendar(cloud: string, arts: ReturnType<typeof artifacts>, from: number, to: number): Calendar {
  const days: string[] = [];
  for (let t = Date.parse(dayOf(from)); t <= to; t += DAY_MS) days.push(dayOf(t));
  const lanes = new Map<string, Map<string, CalendarCell>>();
  for (const { row, all } of arts) {
    const t = Date.parse(row.completedAt);
    if (t < from || t > to) continue;
    const lane = laneOf(cloud, row);
    const cells =
      lanes.get(lane) ??
      lanes.set(lane, new Map(days.map((d) => [d, { day: d, count: 0, bytes: 0, state: null, ids: [] }]))).get(lane)!;
    const c = cells.get(dayOf(t));
    if (!c) continue;
    c.count++;
    c.bytes += row.bytes;
    c.state = worst(c.state, stateOf(all));
    c.ids.push(row.id);
  }
  const order = [...lanes.keys()].sort(
    (a, b) => componentRank(a.split(' ')[0]!) - componentRank(b.split(' ')[0]!) || a.localeCompare(b),
  );
  return { days, lanes: order.map((lane) => ({ lane, cells: [...lanes.get(lane)!.values()] })) };
}

/** At most `buckets` points, keeping each bucket's largest value (an RPO peak must not vanish). */
export function downsampleMax(points: readonly Point[], buckets: number): Point[] {
  if (points.length <= buckets) return [...points];
  const t0 = points[0]!.t;
  const span = points[points.length - 1]!.t - t0 || 1;
  const out = new Map<number, Point>();
  for (const p of points) {
    const b = Math.min(buckets - 1, Math.floor(((p.t - t0) / span) * buckets));
    const o = out.get(b);
    if (!o || p.v > o.v) out.set(b, p);
  }
  return [...out.values()].sort((a, b) => a.t - b.t);
}

/** Stored bytes of each artifact over time, per component and kind; binlog segments summed per day. */
export function sizeSeries(arts: ReturnType<typeof artifacts>, from: number, to: number): Series[] {
  const by = new Map<string, Point[]>();
  const binlogDays = new Map<string, number>();
  for (const { row } of arts) {
    const t = Date.parse(row.completedAt);
    if (t < from || t > to) continue;
    if (row.component === 'binlog') {
      binlogDays.set(dayOf(t), (binlogDays.get(dayOf(t)) ?? 0) + row.bytes);
      continue;
    }
    const name =
      row.component === 'database' ? `database ${row.kind}` : row.component === 'dump' ? 'dump' : row.component;
    (by.get(name) ?? by.set(name, []).get(name)!).push({ t, v: row.bytes, label: row.id });
  }
  const out = [...by.entries()]
    .sort(([a], [b]) => componentRank(a.split(' ')[0]!) - componentRank(b.split(' ')[0]!) || a.localeCompare(b))
    .map(([name, points]) => ({ name, points }));
  if (binlogDays.size)
    out.push({
      name: 'binlog (per day)',
      points: [...binlogDays.entries()]
        .sort()
        .map(([d, v]) => ({ t: Math.min(Date.parse(d) + DAY_MS / 2, to), v, label: d })),
    });
  return out;
}

/**
 * Backups: at each usable restore point, the gap since the one before it (the data a loss just
 * before it landed would have taken), and at the report's time the age of the newest one.
 */
export function backupRpoSeries(arts: ReturnType<typeof artifacts>, from: number, to: number): Series[] {
  const points = usableRestorePoints(arts).map(({ row }) => ({ t: Date.parse(row.completedAt), id: row.id }));
  const out: Point[] = [];
  for (let i = 1; i < points.length; i++) {
    const p = points[i]!;
    if (p.t >= from && p.t <= to) out.push({ t: p.t, v: (p.t - points[i - 1]!.t) / 1000, label: p.id });
  }
  const newest = points.at(-1);
  if (newest && newest.t <= to) out.push({ t: to, v: (to - newest.t) / 1000, label: `now: since ${newest.id}` });
  return out.length ? [{ name: 'database restore points', points: out }] : [];
}

/** A merged (compacted) segment: its completion is the compaction's, not the archive's. */
const isMerged = (id: string) => /-\d{12}-\d{12}$/.test(id);

/**
 * Binlog archiving, per server: when segment i landed, the oldest event it carried had been at
 * risk since max(the previous segment's end, its own first event) — an idle server waits for
 * nothing. Segments without a recorded span (older indexes) use their start time as their end.
 * A merged segment stands for its pieces: it counts when its last piece landed, with the worst
 * delay its pieces recorded (and its first piece's against the segment before); one merged
 * without that record (none are written so) is left out.
 */
export function binlogRpoSeries(arts: ReturnType<typeof artifacts>, from: number, to: number, buckets = 400): Series[] {
  const byHost = new Map<string, CatalogEntry[]>();
  for (const { row } of arts)
    if (row.component === 'binlog' && (!isMerged(row.id) || row.binlogSpan?.compacted))
      (byHost.get(row.sourceHost) ?? byHost.set(row.sourceHost, []).get(row.sourceHost)!).push(row);
  const landed = (r: CatalogEntry) => r.binlogSpan?.compacted?.lastLandedAt ?? r.completedAt;
  const out: Series[] = [];
  for (const [host, segs] of [...byHost.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    segs.sort((a, b) => landed(a).localeCompare(landed(b)));
    const points: Point[] = [];
    for (let i = 1; i < segs.length; i++) {
      const s = segs[i]!;
      const t = Date.parse(landed(s));
      if (t < from || t > to) continue;
      const c = s.binlogSpan?.compacted;
      const prevEnd = Date.parse(segs[i - 1]!.binlogSpan?.archivedThrough ?? segs[i - 1]!.startedAt);
      const first = s.binlogSpan?.firstEventAt ? Date.parse(s.binlogSpan.firstEventAt) : prevEnd;
      const firstLanded = c ? Date.parse(c.firstLandedAt) : t;
      points.push({
        t,
        v: Math.max(0, (firstLanded - Math.max(prevEnd, first)) / 1000, c?.worstLandingSeconds ?? 0),
        label: s.id,
      });
    }
    if (points.length) out.push({ name: `binlog ${host}`, points: downsampleMax(points, buckets) });
  }
  return out;
}

export function breaches(input: ReportInput, arts: ReturnType<typeof artifacts>, rpo: ReportModel['rpo']): Breach[] {
  const out: Breach[] = [];
  const s = input.settings;
  const now = Date.parse(input.generatedAt);
  for (const { row, all } of arts) {
    const failed = all.find((r) => r.verification === 'FAILED');
    if (failed)
      out.push({
        kind: 'verification-failed',
        subject: row.id,
        since: failed.lastVerifiedAt,
        message: `${row.component} ${row.id}: its last restore proof FAILED (${failed.lastVerifiedAt ?? 'time unknown'}); restore points that depend on it are suspect — run \`osbackup verify\` on a newer one`,
      });
    for (const r of all) {
      if (r.check === 'CORRUPT')
        out.push({
          kind: 'corrupt',
          subject: `${row.id} on ${r.target}`,
          since: r.lastCheckedAt,
          message: `${row.component} ${row.id} on target ${r.target}: stored bytes no longer match the manifest's SHA-256 — copy it again from a good target (\`osbackup copy\`)`,
        });
      if (r.check === 'MISSING')
        out.push({
          kind: 'missing',
          subject: `${row.id} on ${r.target}`,
          since: r.lastCheckedAt,
          message: `${row.component} ${row.id} on target ${r.target}: its manifest has gone from the storage`,
        });
    }
  }
  const current = rpo.backups[0]?.points.at(-1);
  if (!usableRestorePoints(arts).length)
    out.push({
      kind: 'backup-rpo',
      subject: 'database',
      since: null,
      message: arts.some(({ row }) => row.component === 'database')
        ? 'no usable database restore point: every chain holds a failed proof or an artifact intact on no target'
        : 'no database restore point at all',
    });
  else if (current && current.v > s.backupRpoTargetSeconds)
    out.push({
      kind: 'backup-rpo',
      subject: 'database',
      since: new Date(current.t - current.v * 1000).toISOString(),
      message: `the newest good database restore point is ${fmtDuration(current.v)} old, over the target ${fmtDuration(s.backupRpoTargetSeconds)}`,
    });
  for (const series of rpo.binlog) {
    const last = series.points.at(-1)!;
    if (last.v > s.binlogRpoTargetSeconds)
      out.push({
        kind: 'binlog-rpo',
        subject: series.name,
        since: new Date(last.t).toISOString(),
        message: `${series.name}: the newest segment landed ${fmtDuration(last.v)} after the events it carried, over the target ${fmtDuration(s.binlogRpoTargetSeconds)}`,
      });
  }
  const newest = (kind: string) =>
    input.drills.filter((d) => d.kind === kind).sort((a, b) => b.completedAt.localeCompare(a.completedAt));
  const drills = newest('drill');
  // the newest of each kind: a failure stays open until a later run of that kind passes
  for (const latest of [drills[0], newest('rebuild')[0]]) {
    if (latest?.result === 'failed')
      out.push({
        kind: 'drill-failed',
        subject: latest.id,
        since: latest.completedAt,
        message: `the latest ${latest.kind} ${latest.id} failed: ${
          latest.breaches.join('; ') ||
          latest.steps
            .filter((x) => x.result === 'failed')
            .map((x) => `step ${x.name} failed`)
            .join('; ') ||
          `see ${latest.id}/REPORT.md`
        }`,
      });
  }
  const passed = drills.find((d) => d.result === 'passed');
  const age = passed ? (now - Date.parse(passed.completedAt)) / DAY_MS : null;
  if (age === null)
    out.push({
      kind: 'drill-overdue',
      subject: 'drill',
      since: null,
      message: `no passed DR drill recorded for ${input.cloud}: run one (the target is every ${s.drillMaxAgeDays} days)`,
    });
  else if (age > s.drillMaxAgeDays)
    out.push({
      kind: 'drill-overdue',
      subject: 'drill',
      since: passed!.completedAt,
      message: `the last passed drill (${passed!.id}) is ${age.toFixed(1)} days old, over ${s.drillMaxAgeDays} days`,
    });
  for (const u of input.unavailableTargets)
    out.push({
      kind: 'unreadable',
      subject: `target ${u.target}`,
      since: null,
      message: `target ${u.target} could not be read, its copies are not shown: ${u.reason}`,
    });
  for (const f of input.capacityFailed)
    out.push({
      kind: 'unreadable',
      subject: `target ${f.target}`,
      since: null,
      message: `target ${f.target}: capacity could not be scanned: ${f.error}`,
    });
  for (const t of input.capacity)
    if (
      t.daysUntilFull !== null &&
      t.daysUntilFull <= FORECAST_DAYS &&
      historyDays(input.rows, t.target) >= MIN_FORECAST_HISTORY_DAYS
    )
      out.push({
        kind: 'capacity',
        subject: `target ${t.target}`,
        since: null,
        message: `target ${t.target} fills in ${t.daysUntilFull.toFixed(1)} days (${t.fullAt!.slice(0, 10)}) at its current growth`,
      });
  return out;
}

export function forecastViews(input: ReportInput): ForecastView[] {
  const now = Date.parse(input.generatedAt);
  return input.capacity.map((c) => {
    let sum = 0;
    const history = input.rows
      .filter((r) => r.target === c.target)
      .sort((a, b) => a.completedAt.localeCompare(b.completedAt))
      .map((r) => ({ t: Date.parse(r.completedAt), v: (sum += r.bytes), label: r.id }));
    const projection =
      c.growthBytesPerDay === null
        ? []
        : [
            { t: now, v: c.storedBytes },
            { t: now + FORECAST_DAYS * DAY_MS, v: c.forecast30dBytes!, label: `in ${FORECAST_DAYS} days` },
          ];
    const { components: _components, artifacts: _artifacts, ...rest } = c;
    return {
      ...rest,
      history: downsampleMax(history, 400),
      projection,
      historyDays: historyDays(input.rows, c.target),
    };
  });
}

export function reportModel(input: ReportInput): ReportModel {
  const to = Date.parse(input.generatedAt);
  const from = Date.parse(dayOf(to - (input.settings.days - 1) * DAY_MS));
  const arts = artifacts(input.rows, input.repository);
  const rpo = { backups: backupRpoSeries(arts, from, to), binlog: binlogRpoSeries(arts, from, to) };
  const found = breaches(input, arts, rpo);
  const db = arts.filter(({ row }) => row.component === 'database');
  const drills = [...input.drills].sort((a, b) => b.completedAt.localeCompare(a.completedAt));
  const notes: string[] = [];
  if (arts.some(({ row }) => row.workflowId === undefined))
    notes.push(
      'some catalog rows predate recorded run ids: their calendar row is their kind, not their tier (`osbackup catalog rebuild` records them)',
    );
  return {
    cloud: input.cloud,
    generatedAt: input.generatedAt,
    settings: input.settings,
    window: { from, to },
    summary: {
      artifacts: arts.length,
      restorePoints: db.length,
      newestRestorePoint: db.at(-1)?.row.completedAt ?? null,
      storedBytes: arts.reduce((n, a) => n + a.row.bytes, 0),
      verified: arts.filter(({ all }) => stateOf(all) === 'verified').length,
      drills: drills.length,
      lastDrill: drills[0] ?? null,
      breaches: found.length,
    },
    calendar: calendar(input.cloud, arts, from, to),
    sizes: sizeSeries(arts, from, to),
    rpo,
    drills,
    breaches: found,
    forecast: forecastViews(input),
    notes,
  };
}

/** 95 → "1 min 35 s", 90000 → "1 d 1 h". */
export function fmtDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  if (s < 86400)
    return `${Math.floor(s / 3600)} h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)} min` : ''}`;
  return `${Math.floor(s / 86400)} d${Math.floor((s % 86400) / 3600) ? ` ${Math.floor((s % 86400) / 3600)} h` : ''}`;
}
