// Archived binary-log segments and point-in-time planning. Pure: shared by the archiver, the
// restore workflow, retention, the catalog and the client.
//
// A segment is a byte range [startPosition, endPosition) of one binlog file of one server,
// cut at event boundaries, stored as its own artifact folder (clouds/<cloud>/binlog/<id>/).
// Concatenating a file's segments in position order gives back the file's bytes exactly, so
// the stock `mariadb-binlog` replays the reassembled file; nothing osbackup-specific is needed.
import { chainTo, type ChainLink } from './chain.js';
import type { EncryptionInfo, MANIFEST_FORMAT } from './manifest.js';

export const SEGMENT_FILE = 'segment.zst.gpg';

/** What the events of a segment hold (from their headers). */
export interface BinlogSegmentEvents {
  events: number;
  /** Lowest and highest event timestamp (UTC, 1-second resolution; statement start times). */
  firstEventAt: string | null;
  lastEventAt: string | null;
  /** First and last GTID (domain-server-seq) in the segment, when it holds transactions. */
  firstGtid: string | null;
  lastGtid: string | null;
  serverIds: number[];
}

export interface BinlogManifest {
  formatVersion: typeof MANIFEST_FORMAT;
  id: string;
  cloud: string;
  component: 'binlog';
  kind: 'binlog';
  parentId: null;
  startedAt: string;
  completedAt: string;
  workflowId: string;
  source: { host: string; address: string; containerRuntime: string; serverId: number };
  binlog: BinlogSegmentEvents & {
    file: string;
    /** mysql-bin.000042 → 42: files of one server are numbered without gaps. */
    sequence: number;
    startPosition: number;
    endPosition: number;
    /**
     * Server time (UTC) at which the archiver read the position this segment ends at: every
     * event written before that instant is in this segment or an earlier one.
     */
    archivedThrough: string;
    /** On the first segment of a file: the previous file and the size it was closed at (a missing tail shows as a gap). */
    previous: { file: string; endPosition: number } | null;
  };
  artifact: {
    file: string;
    bytes: number;
    sha256: string;
    /** Bytes of the raw binlog range. */
    streamBytes: number;
    layers: ['binlog', 'zstd', 'openpgp'];
    compression: { format: 'zstd'; level: number; where: 'worker' };
    encryption: EncryptionInfo;
  };
  tools: { zstd: string; gpg: string; osbackup: string };
  restoreRecipe: string;
}

/** Sortable, unique per server and position: binlog-ctl1-mysql-bin.000042-000000001234 */
export function binlogSegmentId(host: string, file: string, startPosition: number): string {
  return `binlog-${host}-${file}-${String(startPosition).padStart(12, '0')}`;
}

export function binlogSequence(file: string): number | null {
  const m = /\.(\d+)$/.exec(file);
  return m ? Number(m[1]) : null;
}

export function binlogWorkflowId(cloud: string): string {
  return `archive-binlogs:${cloud}`;
}

// ---- point-in-time planning ----------------------------------------------------------------

/** What the planner reads of a segment manifest (catalog-sized). */
export interface SegmentLink {
  id: string;
  host: string;
  file: string;
  sequence: number;
  startPosition: number;
  endPosition: number;
  firstEventAt: string | null;
  lastEventAt: string | null;
  archivedThrough: string;
  previous: { file: string; endPosition: number } | null;
}

export function segmentLink(m: BinlogManifest): SegmentLink {
  const b = m.binlog;
  return { id: m.id, host: m.source.host, file: b.file, sequence: b.sequence, startPosition: b.startPosition, endPosition: b.endPosition, firstEventAt: b.firstEventAt, lastEventAt: b.lastEventAt, archivedThrough: b.archivedThrough, previous: b.previous };
}

/** What the planner reads of a database backup. */
export interface PointLink extends ChainLink {
  completedAt: string;
  source: { host: string };
  mariadb: ChainLink['mariadb'] & { binlog: { file: string; position: number; gtid: string } | null };
}

export interface ReplayPlan {
  /** The chain to restore, full first; its last member is the base the binlogs replay onto. */
  chain: string[];
  base: string;
  baseAt: string;
  /** Segments to reassemble, file by file in order; each file's segments start at position 0. */
  files: { file: string; segments: string[] }[];
  startFile: string;
  startPosition: number;
  /** mariadb-binlog --stop-datetime (UTC): the first second not replayed. */
  stopDatetime: string;
  /** The target, as asked. */
  target: string;
}

export interface RecoverableRange {
  from: string;
  to: string;
  base: string;
}

export type PitrPlan = { plan: ReplayPlan } | { problem: string; ranges: RecoverableRange[] };

const sec = (iso: string) => Math.floor(Date.parse(iso) / 1000);
const isoSec = (s: number) => new Date(s * 1000).toISOString().replace('.000Z', 'Z');

/**
 * The contiguous run of segments a replay from (file, position) can read, in order: it stops
 * at the first gap (a missing range inside a file, a file whose first bytes or tail are
 * missing). Returns null when the start file's beginning (its format description) is missing.
 */
export function contiguousFrom(segments: readonly SegmentLink[], host: string, file: string): SegmentLink[] | null {
  const seq0 = binlogSequence(file);
  if (seq0 === null) return null;
  const bySeq = new Map<number, SegmentLink[]>();
  for (const s of segments) {
    if (s.host !== host) continue;
    (bySeq.get(s.sequence) ?? bySeq.set(s.sequence, []).get(s.sequence)!).push(s);
  }
  for (const list of bySeq.values()) list.sort((a, b) => a.startPosition - b.startPosition);
  const out: SegmentLink[] = [];
  let seq = seq0;
  let prevEnd: { file: string; end: number } | null = null;
  for (;;) {
    const list = bySeq.get(seq);
    if (!list || list[0]!.startPosition !== 0) break;
    const first = list[0]!;
    // the previous file must have been archived up to the size it was closed at
    if (prevEnd && first.previous && (first.previous.file !== prevEnd.file || first.previous.endPosition !== prevEnd.end)) break;
    let pos = 0;
    for (const s of list) {
      if (s.startPosition !== pos) break;
      out.push(s);
      pos = s.endPosition;
    }
    if (out.length === 0) return null;
    prevEnd = { file: list[0]!.file, end: pos };
    if (pos !== list[list.length - 1]!.endPosition) break; // a gap inside this file
    seq++;
  }
  return out.length ? out : null;
}

/** Up to when a replay from `point` can reach (server time; every event before it is archived). */
function reach(point: PointLink, run: SegmentLink[] | null): number | null {
  if (!run || !point.mariadb.binlog) return null;
  const b = point.mariadb.binlog;
  // the run must hold the base's position
  const holds = run.some((s) => s.file === b.file && s.endPosition >= b.position) || run.some((s) => (binlogSequence(s.file) ?? 0) > (binlogSequence(b.file) ?? 0));
  if (!holds) return null;
  return Math.max(...run.map((s) => sec(s.archivedThrough)));
}

/**
 * The restore for `target`: the newest intact restore point at or before it whose binlog
 * position the archive can replay from, and the segments up to the target. A target outside
 * every recoverable range is refused with the ranges there are.
 */
export function planPointInTime(points: readonly PointLink[], segments: readonly SegmentLink[], targetIso: string): PitrPlan {
  const t = Date.parse(targetIso);
  if (!Number.isFinite(t)) return { problem: `"${targetIso}" is not a time (use ISO 8601 UTC, e.g. 2026-11-30T04:05:06Z)`, ranges: [] };
  const tSec = Math.floor(t / 1000);
  const ranges: (RecoverableRange & { p: PointLink; run: SegmentLink[]; fromMs: number; toSec: number })[] = [];
  for (const p of points) {
    const c = chainTo(points as PointLink[], p.id);
    if ('problem' in c || !p.mariadb.binlog) continue;
    const run = contiguousFrom(segments, p.source.host, p.mariadb.binlog.file);
    const r = reach(p, run);
    const fromMs = Date.parse(p.completedAt);
    if (r === null || r * 1000 <= fromMs) continue;
    // every event of second s is archived once archivedThrough ≥ s + 1
    ranges.push({ from: p.completedAt, to: isoSec(r - 1), base: p.id, p, run: run!, fromMs, toSec: r - 1 });
  }
  ranges.sort((a, b) => b.fromMs - a.fromMs || (b.base < a.base ? -1 : 1));
  const fits = ranges.find((r) => r.fromMs <= t && tSec <= r.toSec);
  const shown = mergeRanges(ranges);
  if (!fits) {
    const what = shown.length ? `the recoverable range${shown.length > 1 ? 's are' : ' is'} ${shown.map((r) => `${r.from} – ${r.to}`).join(', ')}` : 'nothing is recoverable to a point in time: there is no restore point with a binlog position whose binary logs are archived from it on';
    return { problem: `${isoSec(tSec)} cannot be recovered: ${what}`, ranges: shown };
  }
  const p = fits.p;
  const b = p.mariadb.binlog!;
  const stop = tSec + 1;
  const files: { file: string; segments: string[] }[] = [];
  for (const s of fits.run) {
    let f = files[files.length - 1];
    if (!f || f.file !== s.file) files.push((f = { file: s.file, segments: [] }));
    f.segments.push(s.id);
    // mariadb-binlog stops at the first event at or after the stop time: later segments are not read
    if (s.lastEventAt && sec(s.lastEventAt) >= stop && (binlogSequence(s.file)! > binlogSequence(b.file)! || s.endPosition > b.position)) break;
  }
  const chain = chainTo(points as PointLink[], p.id) as { chain: PointLink[] };
  return { plan: { chain: chain.chain.map((c) => c.id), base: p.id, baseAt: p.completedAt, files, startFile: b.file, startPosition: b.position, stopDatetime: isoSec(stop), target: isoSec(tSec) } };
}

function mergeRanges(ranges: readonly RecoverableRange[]): RecoverableRange[] {
  const sorted = [...ranges].sort((a, b) => a.from.localeCompare(b.from));
  const out: RecoverableRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && Date.parse(r.from) <= Date.parse(last.to) + 1000) {
      if (Date.parse(r.to) > Date.parse(last.to)) last.to = r.to;
    } else out.push({ ...r });
  }
  return out.map(({ from, to, base }) => ({ from, to, base }));
}

// ---- achieved RPO ------------------------------------------------------------------------------

export interface RpoStatus {
  /** When the archive last held every event the server had written (server position read then). */
  caughtUpAt: string | null;
  newestEventAt: string | null;
  /** now − caughtUpAt: the changes a loss of the server now would take with it. */
  achievedRpoSeconds: number | null;
  /** now − newest archived event (grows while the server is idle, though nothing is at risk). */
  newestEventAgeSeconds: number | null;
  rpoTargetSeconds: number;
  rpoMet: boolean | null;
}

export function rpoStatus(nowMs: number, caughtUpAt: string | null, newestEventAt: string | null, rpoTargetSeconds: number): RpoStatus {
  const age = (iso: string | null) => (iso ? Math.max(0, (nowMs - Date.parse(iso)) / 1000) : null);
  const achieved = age(caughtUpAt);
  return { caughtUpAt, newestEventAt, achievedRpoSeconds: achieved, newestEventAgeSeconds: age(newestEventAt), rpoTargetSeconds, rpoMet: achieved === null ? null : achieved <= rpoTargetSeconds };
}
