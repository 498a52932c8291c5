// The retention planner: which artifacts of one target to keep and which to remove, with a
// human-readable reason for every decision. Pure: the artifact list, the policy and `now`
// are inputs, so `osbackup retention plan` can print the same plan a workflow will execute.
//
// Rules decided here:
// - A restore point is a full or incremental database backup whose whole chain (parents
//   present, LSNs continuous where both sides record them) is on this target. Each target is
//   planned alone: a chain that needs another target is no restore point here.
// - Buckets (day, ISO week, month) are calendar buckets in the policy's time zone. A count N
//   keeps the newest point of each of the N newest buckets that have one; a duration keeps
//   the newest point of every bucket whose newest point is no older than the duration.
// - Always kept: the newest restore point, every database artifact at or after the newest
//   full (the chain being built), the binlog after the newest restore point, the newest
//   backup of each control-plane kind, and whatever a kept restore point needs.
// - Logical dumps are restore points of their own series (no parent): the same policy picks
//   among them, the newest dump is always kept, and they never count for physical points.
// - Artifacts that cannot be understood (unparseable time, duplicate id) are kept and
//   reported: a planner that deletes what it cannot read is worse than a full disk.
// - Orphans (incomplete chains) are reported; they are removed when older than the newest
//   full (nothing can restore them) and kept when newer (a copy may still be arriving).
import type { ArtifactManifest } from '../manifest/manifest.js';
import type { BinlogManifest } from '../pitr/segments.js';
import type { DumpManifest } from '../dump/dump.js';
import { fixedOffsetMinutes, parseDuration, type RetentionPolicy } from './policy.js';

export const CONTROL_PLANE_KINDS = ['config', 'fernet', 'rabbitmq'] as const;
export type ControlPlaneKind = (typeof CONTROL_PLANE_KINDS)[number];

/** A database backup: a restore point when its chain is complete. */
export interface DbArtifact {
  id: string;
  kind: 'full' | 'incremental';
  parentId: string | null;
  /** ISO time the backup is consistent as of (mariabackup: its end, i.e. `completedAt`). */
  takenAt: string;
  /** LSN range from xtrabackup_checkpoints; continuity is checked only when both sides have them. */
  fromLsn?: string;
  toLsn?: string;
  /** Binlog file number (mariadb-bin.000042 → 42) at the backup's consistency point; replay starts there. */
  binlogSequence?: number;
  /** The tier run (workflow id) that took it; control-plane artifacts of the same run belong to it. */
  runId?: string;
}

/** One archived binlog file. Files of one server are numbered without gaps; a missing number is lost events. */
export interface BinlogArtifact {
  id: string;
  kind: 'binlog';
  sequence: number;
  /** A segment: the byte range [startPosition, endPosition) of the file. Absent: the whole file. */
  startPosition?: number;
  endPosition?: number;
  /** On a file's first segment: the size the previous file was closed at (its tail is missing unless archived to there). */
  previousEnd?: number;
  /** The server it was archived from (segments of two servers' files never cover each other). */
  host?: string;
  firstEventAt: string;
  lastEventAt: string;
}

/** Kolla config tree, Keystone Fernet/credential keys, RabbitMQ definitions. */
export interface ControlPlaneArtifact {
  id: string;
  kind: ControlPlaneKind;
  takenAt: string;
  /** Id of the database restore point this was taken with, when the tier run recorded it. */
  restorePoint?: string;
  runId?: string;
}

/**
 * A logical dump: a restore point on its own (no parent, no chain). Dumps form their own series:
 * the policy's keepLast/daily/weekly/monthly pick among dumps exactly as among physical restore
 * points, and neither series displaces the other from a bucket.
 */
export interface DumpArtifact {
  id: string;
  kind: 'dump';
  /** The snapshot's time. */
  takenAt: string;
}

export type RetentionArtifact = DbArtifact | BinlogArtifact | ControlPlaneArtifact | DumpArtifact;
export type RetentionKind = RetentionArtifact['kind'];

export interface KeepDecision {
  id: string;
  kind: RetentionKind;
  reasons: string[];
}

export interface RemoveDecision {
  id: string;
  kind: RetentionKind;
  reason: string;
}

export type RetentionProblemKind =
  | 'incomplete-chain'
  | 'unreadable-time'
  | 'duplicate-id'
  | 'binlog-gap'
  | 'window-uncovered';

export interface RetentionProblem {
  kind: RetentionProblemKind;
  /** The artifact concerned, when there is one. */
  id?: string;
  message: string;
}

export interface RetentionPlan {
  now: string;
  /** Newest first. */
  keep: KeepDecision[];
  remove: RemoveDecision[];
  problems: RetentionProblem[];
  /** Kept ids that must stay whole (every kept one except orphans): what `recheck` is given before the purge. */
  retained: string[];
}

export interface RecheckBreak {
  id: string;
  reason: string;
}

const isDb = (a: RetentionArtifact): a is DbArtifact => a.kind === 'full' || a.kind === 'incremental';
const isControlPlane = (a: RetentionArtifact): a is ControlPlaneArtifact =>
  (CONTROL_PLANE_KINDS as readonly string[]).includes(a.kind);

/** The time an artifact is ordered by: its consistency point, or a binlog's last event. */
function timeText(a: RetentionArtifact): string {
  return a.kind === 'binlog' ? a.lastEventAt : a.takenAt;
}

function parseTime(text: string): number | null {
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : null;
}

/** 2026-01-05T10:00:00Z — seconds are the resolution every reason needs. */
function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function span(ms: number): string {
  const min = Math.round(ms / 60_000);
  if (min < 60) return `${min} min`;
  if (min < 48 * 60) return `${Math.floor(min / 60)} h${min % 60 ? ` ${min % 60} min` : ''}`;
  return `${Math.round(min / 1440)} d`;
}

// ---- chains ------------------------------------------------------------------------------

type ChainResult = { chain: string[] } | { problem: string };

/** Ids from the full to `id` (oldest first), or why it cannot be restored from `byId` alone. */
function chainIn(byId: ReadonlyMap<string, RetentionArtifact>, id: string): ChainResult {
  const chain: string[] = [];
  const seen = new Set<string>();
  let cur = byId.get(id);
  if (!cur) return { problem: `${id} is not on the target` };
  for (;;) {
    if (!isDb(cur)) return { problem: `${cur.id} is a ${cur.kind} artifact, not a database backup` };
    if (seen.has(cur.id)) return { problem: `${cur.id} is part of a cycle of parents` };
    seen.add(cur.id);
    chain.unshift(cur.id);
    if (cur.kind === 'full') return { chain };
    if (!cur.parentId) return { problem: `incremental ${cur.id} names no parent` };
    const parent = byId.get(cur.parentId);
    if (!parent) return { problem: `incremental ${cur.id} needs ${cur.parentId}, which is not on the target` };
    if (!isDb(parent))
      return { problem: `incremental ${cur.id} names ${parent.id}, a ${parent.kind} artifact, as its parent` };
    if (cur.fromLsn !== undefined && parent.toLsn !== undefined && cur.fromLsn !== parent.toLsn) {
      return {
        problem: `incremental ${cur.id} starts at LSN ${cur.fromLsn} but its parent ${parent.id} ends at ${parent.toLsn}`,
      };
    }
    cur = parent;
  }
}

// ---- calendar ----------------------------------------------------------------------------

interface Buckets {
  day: string;
  week: string;
  month: string;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function localDate(ms: number, zone: string): { y: number; m: number; d: number } {
  const offset = fixedOffsetMinutes(zone);
  if (offset !== null) {
    const t = new Date(ms + offset * 60_000);
    return { y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: t.getUTCDate() };
  }
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, year: 'numeric', month: 'numeric', day: 'numeric' });
    formatters.set(zone, f);
  }
  const parts = f.formatToParts(ms);
  const part = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return { y: part('year'), m: part('month'), d: part('day') };
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Day, ISO week (weeks start Monday; week 1 holds the year's first Thursday) and month of an instant in `zone`. */
export function calendarBuckets(ms: number, zone: string): Buckets {
  const { y, m, d } = localDate(ms, zone);
  const date = Date.UTC(y, m - 1, d);
  const weekday = (new Date(date).getUTCDay() + 6) % 7; // Monday 0
  const thursday = date + (3 - weekday) * 86_400_000;
  const isoYear = new Date(thursday).getUTCFullYear();
  const week = 1 + Math.floor((thursday - Date.UTC(isoYear, 0, 1)) / (7 * 86_400_000));
  return {
    day: `${pad(y, 4)}-${pad(m)}-${pad(d)}`,
    week: `${pad(isoYear, 4)}-W${pad(week)}`,
    month: `${pad(y, 4)}-${pad(m)}`,
  };
}

// ---- the planner -------------------------------------------------------------------------

interface Point {
  a: DbArtifact;
  ms: number;
}

interface Segment {
  a: BinlogArtifact;
  first: number;
  last: number;
}

export interface RetentionInput {
  /** Everything present on one target (manifests read from it), in any order. */
  artifacts: readonly RetentionArtifact[];
  policy: RetentionPolicy;
  now: Date;
}

function describePolicy(p: RetentionPolicy): string {
  const parts = [`keepLast ${p.keepLast}`, `daily ${p.daily}`, `weekly ${p.weekly}`, `monthly ${p.monthly}`];
  if (p.pointInTimeWindow) parts.push(`pointInTimeWindow ${p.pointInTimeWindow}`);
  return `${parts.join(', ')}, ${p.timeZone}`;
}

function requireDuration(text: string): number {
  const ms = parseDuration(text);
  if (ms === null) throw new TypeError(`not a duration: ${text} (parse the policy with retentionPolicySchema first)`);
  return ms;
}

export function planRetention({ artifacts, policy, now }: RetentionInput): RetentionPlan {
  const nowMs = now.getTime();
  const problems: RetentionProblem[] = [];
  const keep = new Map<string, string[]>();
  const neededBy = new Map<string, string[]>();
  const removeReason = new Map<string, string>();
  const keepFor = (id: string, reason: string) => {
    const r = keep.get(id);
    if (!r) keep.set(id, [reason]);
    else if (!r.includes(reason)) r.push(reason);
  };

  // Understand the input first; whatever cannot be read is kept untouched.
  const byId = new Map<string, RetentionArtifact>();
  const ms = new Map<string, number>();
  for (const a of artifacts) {
    if (byId.has(a.id)) {
      problems.push({
        kind: 'duplicate-id',
        id: a.id,
        message: `${a.id} appears more than once on the target; kept until an operator looks`,
      });
      keepFor(a.id, 'duplicate id: not touched until it is resolved');
      continue;
    }
    byId.set(a.id, a);
    const t = parseTime(timeText(a));
    const t0 = a.kind === 'binlog' ? parseTime(a.firstEventAt) : t;
    if (t === null || t0 === null) {
      problems.push({
        kind: 'unreadable-time',
        id: a.id,
        message: `${a.id} has an unreadable time (${a.kind === 'binlog' ? `${a.firstEventAt}..${a.lastEventAt}` : a.takenAt}); kept`,
      });
      keepFor(a.id, 'unreadable time: not touched until it is fixed');
    } else ms.set(a.id, t);
  }
  const all = [...byId.values()];

  // Restore points, newest first.
  const points: Point[] = [];
  const orphans = new Map<string, string>();
  const chains = new Map<string, string[]>();
  for (const a of all) {
    if (!isDb(a)) continue;
    const r = chainIn(byId, a.id);
    if ('problem' in r) {
      orphans.set(a.id, r.problem);
      continue;
    }
    chains.set(a.id, r.chain);
    const t = ms.get(a.id);
    if (t !== undefined) points.push({ a, ms: t });
  }
  const newestFirst = <T extends { ms: number; a: { id: string } }>(x: T, y: T) =>
    y.ms - x.ms || (y.a.id < x.a.id ? -1 : y.a.id > x.a.id ? 1 : 0);
  points.sort(newestFirst);
  const pointById = new Map(points.map((p) => [p.a.id, p]));
  const selected = new Set<string>(); // points kept for their own sake (their control plane comes along)
  const select = (p: Point, reason: string) => {
    keepFor(p.a.id, reason);
    selected.add(p.a.id);
  };

  const newest = points[0];
  if (newest) select(newest, 'newest complete restore point: always kept');
  points
    .slice(0, policy.keepLast)
    .forEach((p, i) =>
      select(p, `keepLast ${policy.keepLast}: restore point ${i + 1} of the ${policy.keepLast} newest`),
    );

  const tiers: [keyof Buckets, 'daily' | 'weekly' | 'monthly'][] = [
    ['day', 'daily'],
    ['week', 'weekly'],
    ['month', 'monthly'],
  ];
  const buckets = new Map(points.map((p) => [p.a.id, calendarBuckets(p.ms, policy.timeZone)]));
  for (const [bucket, tier] of tiers) {
    const setting = policy[tier];
    const firstOfBucket = new Map<string, Point>(); // insertion order = newest bucket first
    for (const p of points) {
      const key = buckets.get(p.a.id)![bucket];
      if (!firstOfBucket.has(key)) firstOfBucket.set(key, p);
    }
    let i = 0;
    for (const [key, p] of firstOfBucket) {
      i++;
      if (typeof setting === 'number') {
        if (i > setting) break;
        select(p, `${tier} ${setting}: newest restore point of ${key} (${policy.timeZone}), bucket ${i} of ${setting}`);
      } else if (nowMs - p.ms <= requireDuration(setting)) {
        select(p, `${tier} ${setting}: newest restore point of ${key} (${policy.timeZone}), within ${setting}`);
      }
    }
  }

  // Dumps: the same policy over their own series.
  const dumps: SeriesPoint[] = [];
  for (const a of all) if (a.kind === 'dump' && ms.has(a.id)) dumps.push({ a, ms: ms.get(a.id)! });
  dumps.sort(newestFirst);
  selectSeries(dumps, policy, nowMs, (p, reason) => keepFor(p.a.id, reason), 'dump');

  // The chain being built: nothing at or after the newest full is removed, restorable or not.
  let newestFullMs = -Infinity;
  for (const a of all) if (a.kind === 'full') newestFullMs = Math.max(newestFullMs, ms.get(a.id) ?? -Infinity);
  // No full at all: nothing here can be restored, and nothing is rotated against it either.
  const newestFullText =
    newestFullMs === -Infinity
      ? 'there is no full backup on this target'
      : `at or after the newest full backup (${iso(newestFullMs)})`;
  for (const a of all) {
    if (!isDb(a)) continue;
    const t = ms.get(a.id);
    if (t === undefined || t < newestFullMs) continue;
    const p = pointById.get(a.id);
    if (p) select(p, `${newestFullText}: the chain being built`);
    else keepFor(a.id, `${newestFullText}: kept although its chain is incomplete, a copy may still be arriving`);
  }
  for (const [id, why] of orphans) {
    const t = ms.get(id);
    const kept = t === undefined || t >= newestFullMs;
    problems.push({
      kind: 'incomplete-chain',
      id,
      message: `${why}: cannot be restored from this target${kept ? ' (kept: not older than the newest full)' : ''}`,
    });
    if (!kept) removeReason.set(id, `incomplete chain (${why}): cannot be restored, and no restore point builds on it`);
  }

  // Binlog: the window, then everything after the newest restore point. A segment inside a
  // longer one (a compaction's pieces next to the merged segment, on the repository between
  // merge and removal or on a copy target that received both) adds no bytes: it is left out of
  // the analysis and goes.
  const binlogs = all.filter((a): a is BinlogArtifact => a.kind === 'binlog' && ms.has(a.id));
  const covering = new Map<string, string>();
  for (const a of binlogs) {
    const o = coveringSegment(a, binlogs);
    if (o) {
      covering.set(a.id, o.id);
      removeReason.set(a.id, `binlog segment inside ${o.id}: its bytes are there (a merged segment)`);
    }
  }
  const segments: Segment[] = [];
  for (const a of binlogs) {
    if (covering.has(a.id)) continue;
    segments.push({ a, first: parseTime(a.firstEventAt)!, last: ms.get(a.id)! });
  }
  segments.sort(
    (x, y) => x.a.sequence - y.a.sequence || (x.a.startPosition ?? 0) - (y.a.startPosition ?? 0) || x.first - y.first,
  );
  const bySeq = new Map<number, Segment[]>();
  for (const s of segments) (bySeq.get(s.a.sequence) ?? bySeq.set(s.a.sequence, []).get(s.a.sequence)!).push(s);
  for (let i = 1; i < segments.length; i++) {
    const a = segments[i - 1]!;
    const b = segments[i]!;
    const prev = a.a.sequence;
    const next = b.a.sequence;
    const lost = `events between ${iso(a.last)} and ${iso(b.first)} are lost`;
    if (next > prev + 1)
      problems.push({
        kind: 'binlog-gap',
        message: `binlog ${next - prev - 1 === 1 ? `file ${prev + 1} is` : `files ${prev + 1}..${next - 1} are`} missing: ${lost}`,
      });
    else if (!follows(a.a, b.a))
      problems.push({
        kind: 'binlog-gap',
        message:
          next === prev
            ? `binlog file ${prev}: bytes ${a.a.endPosition}..${b.a.startPosition} are missing: ${lost}`
            : `binlog file ${prev} ends at ${a.a.endPosition ?? '?'} in the archive but was closed at ${b.a.previousEnd ?? '?'}, or file ${next} lacks its start: ${lost}`,
      });
  }
  const binlogReason = new Map<string, string>();
  if (segments.length > 0) {
    planBinlog(policy, nowMs, points, segments, bySeq, select, keepFor, problems);
    if (newest) {
      const from = newest.a.binlogSequence;
      for (const s of segments) {
        if (from !== undefined ? s.a.sequence >= from : s.last >= newest.ms)
          keepFor(s.a.id, `binlog after the newest restore point ${newest.a.id}: the only way past it`);
      }
    } else {
      for (const s of segments)
        keepFor(s.a.id, 'binlog: no complete restore point on this target to rotate it against');
    }
    for (const s of segments) {
      binlogReason.set(
        s.a.id,
        policy.pointInTimeWindow
          ? `binlog not needed: every second of the ${policy.pointInTimeWindow} point-in-time window is recoverable without it`
          : 'binlog not needed: older than the newest restore point and no pointInTimeWindow is set',
      );
    }
  }

  // Chains of every kept restore point (window bases included).
  for (const id of [...keep.keys()]) {
    for (const member of chains.get(id) ?? []) {
      if (member === id) continue;
      const list = neededBy.get(member) ?? [];
      list.push(id);
      neededBy.set(member, list);
    }
  }
  for (const [member, by] of neededBy) {
    const names = by.length <= 3 ? by.join(', ') : `${by.slice(0, 3).join(', ')} and ${by.length - 3} more`;
    keepFor(member, `chain: needed to restore ${names}`);
  }

  // Control plane: what belongs to a selected point, the newest of each kind, and what is newer than every point.
  const maxAge = requireDuration(policy.controlPlaneMaxAge);
  const cps = all.filter(isControlPlane).filter((c) => ms.has(c.id));
  const unlinked = (c: ControlPlaneArtifact) => c.restorePoint === undefined && c.runId === undefined;
  for (const id of selected) {
    const p = pointById.get(id)!;
    for (const kind of CONTROL_PLANE_KINDS) {
      const ofKind = cps.filter((c) => c.kind === kind);
      const linked = ofKind.filter((c) => c.restorePoint === id || (c.runId !== undefined && c.runId === p.a.runId));
      if (linked.length > 0) {
        for (const c of linked) keepFor(c.id, `${kind} of restore point ${id} (same run)`);
        continue;
      }
      let best: ControlPlaneArtifact | undefined;
      for (const c of ofKind) {
        const t = ms.get(c.id)!;
        if (!unlinked(c) || t > p.ms || p.ms - t > maxAge) continue;
        if (!best || t > ms.get(best.id)! || (t === ms.get(best.id)! && c.id > best.id)) best = c;
      }
      if (best)
        keepFor(
          best.id,
          `${kind} of restore point ${id} (newest ${kind} taken within ${policy.controlPlaneMaxAge} before it: ${span(p.ms - ms.get(best.id)!)} earlier)`,
        );
    }
  }
  for (const kind of CONTROL_PLANE_KINDS) {
    const ofKind = cps
      .filter((c) => c.kind === kind)
      .sort((x, y) => ms.get(y.id)! - ms.get(x.id)! || (y.id < x.id ? -1 : 1));
    if (ofKind[0]) keepFor(ofKind[0].id, `newest ${kind} backup: always kept`);
  }
  for (const c of cps) {
    if (!newest || ms.get(c.id)! > newest.ms)
      keepFor(
        c.id,
        newest
          ? `newer than the newest restore point ${newest.a.id}: its database backup may still be running`
          : 'no complete restore point on this target to belong to',
      );
  }

  // Everything not kept goes, with the most specific reason known.
  const remove: RemoveDecision[] = [];
  const keepOut: KeepDecision[] = [];
  const order = [...all].sort(
    (x, y) => (ms.get(y.id) ?? Infinity) - (ms.get(x.id) ?? Infinity) || (y.id < x.id ? -1 : y.id > x.id ? 1 : 0),
  );
  for (const a of order) {
    const reasons = keep.get(a.id);
    if (reasons) {
      keepOut.push({ id: a.id, kind: a.kind, reasons });
      continue;
    }
    let reason = removeReason.get(a.id) ?? binlogReason.get(a.id);
    if (!reason && isDb(a))
      reason = `restore point not selected by the policy (${describePolicy(policy)}) and no kept restore point builds on it`;
    if (!reason && a.kind === 'dump') reason = `dump not selected by the policy (${describePolicy(policy)})`;
    if (!reason) reason = `${a.kind} backup of no kept restore point, and not the newest ${a.kind} backup`;
    remove.push({ id: a.id, kind: a.kind, reason });
  }
  return {
    now: iso(nowMs),
    keep: keepOut,
    remove,
    problems,
    retained: keepOut.filter((k) => !orphans.has(k.id)).map((k) => k.id),
  };
}

/** keepLast and the calendar tiers over one series of self-contained points (newest first). */
interface SeriesPoint {
  a: { id: string };
  ms: number;
}

function selectSeries(
  points: SeriesPoint[],
  policy: RetentionPolicy,
  nowMs: number,
  select: (p: SeriesPoint, reason: string) => void,
  what: string,
): void {
  if (points[0]) select(points[0], `newest ${what}: always kept`);
  points
    .slice(0, policy.keepLast)
    .forEach((p, i) => select(p, `keepLast ${policy.keepLast}: ${what} ${i + 1} of the ${policy.keepLast} newest`));
  const tiers: [keyof Buckets, 'daily' | 'weekly' | 'monthly'][] = [
    ['day', 'daily'],
    ['week', 'weekly'],
    ['month', 'monthly'],
  ];
  for (const [bucket, tier] of tiers) {
    const setting = policy[tier];
    const firstOfBucket = new Map<string, SeriesPoint>();
    for (const p of points) {
      const key = calendarBuckets(p.ms, policy.timeZone)[bucket];
      if (!firstOfBucket.has(key)) firstOfBucket.set(key, p);
    }
    let i = 0;
    for (const [key, p] of firstOfBucket) {
      i++;
      if (typeof setting === 'number') {
        if (i > setting) break;
        select(p, `${tier} ${setting}: newest ${what} of ${key} (${policy.timeZone}), bucket ${i} of ${setting}`);
      } else if (nowMs - p.ms <= requireDuration(setting)) {
        select(p, `${tier} ${setting}: newest ${what} of ${key} (${policy.timeZone}), within ${setting}`);
      }
    }
  }
}

/** The longest other segment of the same file (and server) whose byte range holds `a`'s and more, if any. */
function coveringSegment(a: BinlogArtifact, all: readonly BinlogArtifact[]): BinlogArtifact | undefined {
  if (a.startPosition === undefined || a.endPosition === undefined) return undefined;
  let best: BinlogArtifact | undefined;
  for (const o of all) {
    if (o.id === a.id || o.sequence !== a.sequence || o.startPosition === undefined || o.endPosition === undefined)
      continue;
    if (a.host !== undefined && o.host !== undefined && a.host !== o.host) continue;
    if (o.startPosition > a.startPosition || a.endPosition > o.endPosition) continue;
    const len = o.endPosition - o.startPosition;
    // strictly longer: two segments of one range (never written by osbackup) are left to the gap checks
    if (len <= a.endPosition - a.startPosition) continue;
    if (!best || len > best.endPosition! - best.startPosition!) best = o;
  }
  return best;
}

/** Does `b` continue `a` in a replay: the next byte range of the same file, or the next file from its start? */
function follows(a: BinlogArtifact, b: BinlogArtifact): boolean {
  if (b.sequence === a.sequence) return a.endPosition !== undefined && b.startPosition === a.endPosition;
  if (b.sequence !== a.sequence + 1 || (b.startPosition ?? 0) !== 0) return false;
  return b.previousEnd === undefined || a.endPosition === undefined || b.previousEnd === a.endPosition;
}

/**
 * Point-in-time window: cover [now − window, newest archived event] with as few bases as the
 * archive allows. A base B recovers every t from its own time until a missing binlog file
 * would have to be replayed; among the bases that cover the current second, the one reaching
 * furthest (then the newest) is kept with the files from its position onwards.
 */
function planBinlog(
  policy: RetentionPolicy,
  nowMs: number,
  points: Point[],
  segments: Segment[],
  bySeq: ReadonlyMap<number, Segment[]>,
  select: (p: Point, reason: string) => void,
  keepFor: (id: string, reason: string) => void,
  problems: RetentionProblem[],
): void {
  if (!policy.pointInTimeWindow) return;
  const window = requireDuration(policy.pointInTimeWindow);
  const newestEvent = Math.max(...segments.map((s) => s.last));
  // `segments` is in file order (sequence, then position): the order a replay reads them in
  /** Index of the last segment with an event at or before t: the last one a recovery to t replays. */
  const lastPieceFor = (t: number) => {
    let best = -1;
    segments.forEach((s, i) => {
      if (s.first <= t) best = i;
    });
    return best;
  };
  /** First instant a recovery from a base at `seq` would need a missing file or byte range. */
  const reachEnd = (seq: number) => {
    const from = segments.findIndex((s) => s.a.sequence >= seq);
    if (from < 0) return Infinity;
    let i = from;
    if (segments[i]!.a.sequence === seq && (segments[i]!.a.startPosition ?? 0) === 0) {
      while (i + 1 < segments.length && follows(segments[i]!.a, segments[i + 1]!.a)) i++;
      i++;
    }
    let end = Infinity;
    for (let j = i; j < segments.length; j++) end = Math.min(end, segments[j]!.first);
    return end;
  };
  const firstOf = (seq: number) => segments.findIndex((s) => s.a.sequence === seq);
  const bases = points
    .filter((p) => p.a.binlogSequence !== undefined)
    .map((p) => ({ p, end: reachEnd(p.a.binlogSequence!) }))
    .filter((b) => b.end > b.p.ms);
  const label = `point-in-time window ${policy.pointInTimeWindow}`;
  let cur = nowMs - window;
  while (cur <= newestEvent) {
    let best: (typeof bases)[number] | undefined;
    for (const b of bases) {
      if (b.p.ms > cur || b.end <= cur) continue;
      if (!best || b.end > best.end || (b.end === best.end && b.p.ms > best.p.ms)) best = b;
    }
    if (!best) {
      let next: (typeof bases)[number] | undefined;
      for (const b of bases) if (b.p.ms > cur && (!next || b.p.ms < next.p.ms)) next = b;
      const until = next ? next.p.ms : newestEvent + 1;
      problems.push({
        kind: 'window-uncovered',
        message: `${label}: ${iso(cur)} to ${iso(until - 1)} cannot be recovered (no restore point with a binlog position before it, or a binlog file missing)`,
      });
      if (!next) return;
      cur = next.p.ms;
      continue;
    }
    const upTo = Math.min(best.end - 1, newestEvent);
    select(best.p, `base of the ${label}: recovers ${iso(cur)} to ${iso(upTo)}`);
    const last = lastPieceFor(upTo);
    for (let i = firstOf(best.p.a.binlogSequence!); i >= 0 && i <= last; i++) {
      keepFor(segments[i]!.a.id, `${label}: replayed from ${best.p.a.id} to reach ${iso(upTo)}`);
    }
    if (best.end > newestEvent) return;
    cur = best.end;
  }
}

/**
 * Second phase of a purge: after marking, would every retained artifact still be whole?
 * Returns the retained ids that would break (gone, or a restore point whose chain would be
 * incomplete) if only `remaining` stayed on the target. Empty means the purge may go on.
 */
export function recheck(retainedIds: Iterable<string>, remaining: readonly RetentionArtifact[]): RecheckBreak[] {
  const byId = new Map(remaining.map((a) => [a.id, a]));
  const out: RecheckBreak[] = [];
  for (const id of retainedIds) {
    const a = byId.get(id);
    if (!a) {
      out.push({ id, reason: `${id} is retained but would be removed` });
      continue;
    }
    if (!isDb(a)) continue;
    const r = chainIn(byId, id);
    if ('problem' in r) out.push({ id, reason: `retained restore point ${id} would break: ${r.problem}` });
  }
  return out;
}

/** A database manifest as the planner sees it. */
export function retentionArtifactFromManifest(m: ArtifactManifest): DbArtifact {
  const seq = m.mariadb.binlog ? /\.(\d+)$/.exec(m.mariadb.binlog.file) : null;
  return {
    id: m.id,
    kind: m.kind,
    parentId: m.parentId,
    takenAt: m.completedAt,
    fromLsn: m.mariadb.checkpoints.fromLsn,
    toLsn: m.mariadb.checkpoints.toLsn,
    ...(seq ? { binlogSequence: Number(seq[1]) } : {}),
  };
}

/** A logical dump as the planner sees it: a point in its own series, at its snapshot. */
export function dumpRetentionArtifact(m: DumpManifest): DumpArtifact {
  return { id: m.id, kind: 'dump', takenAt: m.dump.snapshotAt };
}

/** A binlog segment manifest as the planner sees it: a byte range of one numbered file. */
export function binlogRetentionArtifact(m: BinlogManifest): BinlogArtifact {
  const b = m.binlog;
  return {
    id: m.id,
    kind: 'binlog',
    sequence: b.sequence,
    startPosition: b.startPosition,
    endPosition: b.endPosition,
    ...(b.previous ? { previousEnd: b.previous.endPosition } : {}),
    host: m.source.host,
    firstEventAt: b.firstEventAt ?? m.completedAt,
    lastEventAt: b.lastEventAt ?? m.completedAt,
  };
}
