// Single-service restore planning (pure): where the schema's state at the target comes from.
//
// Two sources give one schema as it was at a second T:
//  - a logical dump taken at or before T, plus the schema's row events from the dump's binlog
//    position up to T (replayed with `mariadb-binlog --database=<schema>`), or the dump alone
//    when T is the dump's own second and no archive reaches past it;
//  - a physical restore point before T, prepared in a scratch instance, plus the whole
//    server's binlogs up to T (the point-in-time planner).
// A dump is preferred: it loads one schema instead of the whole server. Either way the schema
// is prepared in a scratch instance and exported from there; the live server only ever gets
// that export (see docs/service-restore.md).
import {
  binlogSequence,
  contiguousFrom,
  planPointInTime,
  type PointLink,
  type ReplayPlan,
  type SegmentLink,
} from '../pitr/segments.js';

/** What the planner reads of a logical dump manifest (core/dump/dump.ts on wip/dumps). */
export interface DumpLink {
  id: string;
  source: { host: string };
  /** When the dump's consistent snapshot was taken (UTC ISO). */
  snapshotAt: string;
  /** The binlog position of the snapshot (null: the server had no binlog). */
  binlog: { file: string; position: number } | null;
  gtid: string | null;
  schemas: string[];
}

/** Binlogs to replay after loading a dump: only the schemas' row events, up to the target. */
export interface DumpReplay {
  files: { file: string; segments: string[] }[];
  startFile: string;
  startPosition: number;
  stopDatetime: string;
  target: string;
}

export type ServiceRestorePlan =
  | { via: 'dump'; dump: string; snapshotAt: string; replay: DumpReplay | null; target: string; why: string }
  | { via: 'scratch'; pitr: ReplayPlan; target: string; why: string };

export type ServiceRestorePlanResult = { plan: ServiceRestorePlan } | { problem: string };

const sec = (iso: string) => Math.floor(Date.parse(iso) / 1000);
const isoSec = (s: number) => new Date(s * 1000).toISOString().replace('.000Z', 'Z');

/**
 * The dump (newest first) that reaches the target second: its binlog position is inside an
 * unbroken run of archived segments that holds every event up to the end of that second; or,
 * failing that, a dump taken within the target second itself (the dump is then the answer).
 */
export function dumpFor(
  dumps: readonly DumpLink[],
  segments: readonly SegmentLink[],
  schemas: readonly string[],
  tSec: number,
): { dump: DumpLink; replay: DumpReplay | null } | { problem: string } {
  const holding = dumps.filter((d) => schemas.every((s) => d.schemas.includes(s)));
  const before = holding
    .filter((d) => sec(d.snapshotAt) <= tSec)
    .sort((a, b) => Date.parse(b.snapshotAt) - Date.parse(a.snapshotAt) || (b.id < a.id ? -1 : 1));
  if (!before.length)
    return {
      problem: holding.length
        ? `no logical dump of ${schemas.join(', ')} was taken at or before ${isoSec(tSec)}`
        : `no logical dump holds ${schemas.join(', ')}`,
    };
  const stop = tSec + 1;
  for (const d of before) {
    if (!d.binlog) continue;
    const b = d.binlog;
    const run = contiguousFrom(segments, d.source.host, b.file);
    if (!run) continue;
    const holds =
      run.some((s) => s.file === b.file && s.endPosition >= b.position) ||
      run.some((s) => (binlogSequence(s.file) ?? 0) > (binlogSequence(b.file) ?? 0));
    // every event of second t is archived once archivedThrough ≥ t + 1
    if (!holds || Math.max(...run.map((s) => sec(s.archivedThrough))) < stop) continue;
    // the start file from its first byte: mariadb-binlog reads its format description there
    const files: DumpReplay['files'] = [];
    for (const s of run) {
      let f = files[files.length - 1];
      if (!f || f.file !== s.file) files.push((f = { file: s.file, segments: [] }));
      f.segments.push(s.id);
      if (
        s.lastEventAt &&
        sec(s.lastEventAt) >= stop &&
        (binlogSequence(s.file)! > binlogSequence(b.file)! || s.endPosition > b.position)
      )
        break; // mariadb-binlog stops before the rest
    }
    return {
      dump: d,
      replay: { files, startFile: b.file, startPosition: b.position, stopDatetime: isoSec(stop), target: isoSec(tSec) },
    };
  }
  const own = before.find((d) => sec(d.snapshotAt) === tSec);
  if (own) return { dump: own, replay: null };
  return {
    problem: `the archived binary logs do not reach ${isoSec(tSec)} from the position of dump ${before[0]!.id} (${before[0]!.snapshotAt})`,
  };
}

/**
 * Dump when one fits (or when asked for), else the physical restore point and binlogs in a
 * scratch instance. A target neither can reach is refused with both reasons.
 */
export function planServiceRestore(input: {
  at: string;
  schemas: readonly string[];
  via?: 'dump' | 'scratch';
  dumps: readonly DumpLink[];
  points: readonly PointLink[];
  segments: readonly SegmentLink[];
}): ServiceRestorePlanResult {
  const t = Date.parse(input.at);
  if (!Number.isFinite(t))
    return { problem: `"${input.at}" is not a time (use ISO 8601 UTC, e.g. 2026-11-30T04:05:06Z)` };
  const tSec = Math.floor(t / 1000);
  const target = isoSec(tSec);
  const viaDump = input.via === 'scratch' ? null : dumpFor(input.dumps, input.segments, input.schemas, tSec);
  if (viaDump && 'dump' in viaDump) {
    const d = viaDump.dump;
    const why = viaDump.replay
      ? `dump ${d.id} (${d.snapshotAt}) and the schema's binlog events up to ${target}`
      : `dump ${d.id} was taken in the target second`;
    return { plan: { via: 'dump', dump: d.id, snapshotAt: d.snapshotAt, replay: viaDump.replay, target, why } };
  }
  if (input.via === 'dump') return { problem: `${target} cannot be restored from a logical dump: ${viaDump!.problem}` };
  const p = planPointInTime(input.points, input.segments, input.at);
  if ('problem' in p)
    return { problem: viaDump ? `${p.problem}; and no logical dump fits (${viaDump.problem})` : p.problem };
  const why = `${viaDump ? `no logical dump fits (${viaDump.problem}): ` : ''}restore point ${p.plan.base} prepared in a scratch instance, binlogs replayed to ${target}`;
  return { plan: { via: 'scratch', pitr: p.plan, target, why } };
}
