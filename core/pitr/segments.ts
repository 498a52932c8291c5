// Archived binary-log segments and point-in-time planning. Pure: shared by the archiver, the
// restore workflow, retention, the catalog and the client.
//
// A segment is a byte range [startPosition, endPosition) of one binlog file of one server,
// cut at event boundaries, stored as its own artifact folder (clouds/<cloud>/binlog/<id>/).
// Concatenating a file's segments in position order gives back the file's bytes exactly, so
// the stock `mariadb-binlog` replays the reassembled file; nothing osbackup-specific is needed.
import { chainTo, type ChainLink } from '../chain/chain.js';
import type { EncryptionInfo, MANIFEST_FORMAT } from '../manifest/manifest.js';

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
    /** On a merged segment (core/pitr/compaction.ts): what its pieces were. */
    compacted?: CompactedFrom;
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

/** The artifact record of a sealed segment file (the raw range, zstd on the worker, then OpenPGP): the archiver's and the compaction's. */
export function segmentArtifact(
  sealed: { bytes: number; sha256: string },
  streamBytes: number,
  compressionLevel: number,
  passphrase: boolean,
  recipientFingerprints: string[],
): BinlogManifest['artifact'] {
  return {
    file: SEGMENT_FILE,
    bytes: sealed.bytes,
    sha256: sealed.sha256,
    streamBytes,
    layers: ['binlog', 'zstd', 'openpgp'],
    compression: { format: 'zstd', level: compressionLevel, where: 'worker' },
    encryption: { format: 'openpgp', cipher: 'AES256', passphrase, recipientFingerprints },
  };
}

/** What a merged segment keeps of its pieces: their number and when they landed (the report's RPO series). */
export interface CompactedFrom {
  pieces: number;
  /** When the first and the last piece were published (the archive's times, not the compaction's). */
  firstLandedAt: string;
  lastLandedAt: string;
  /** Largest delay between a piece's oldest event (or the previous piece's end) and its publication. */
  worstLandingSeconds: number;
}

/** Sortable, unique per server and position: binlog-ctl1-mysql-bin.000042-000000001234 */
export function binlogSegmentId(host: string, file: string, startPosition: number): string {
  return `binlog-${host}-${file}-${String(startPosition).padStart(12, '0')}`;
}

export function binlogSequence(file: string): number | null {
  const m = /\.(\d+)$/.exec(file);
  return m ? Number(m[1]) : null;
}

export function pitrArchiveWorkflowId(cloud: string): string {
  return `archive-binlogs:${cloud}`;
}

/** The compaction pass of a cloud (pitrCompactionWorkflow): one at a time. */
export function pitrCompactionWorkflowId(cloud: string): string {
  return `compact-binlogs:${cloud}`;
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
  /** First and last GTID in the segment (absent: not recorded, the segment is never located by GTID). */
  firstGtid?: string | null;
  lastGtid?: string | null;
  archivedThrough: string;
  previous: { file: string; endPosition: number } | null;
}

export function segmentLink(m: BinlogManifest): SegmentLink {
  const b = m.binlog;
  return {
    id: m.id,
    host: m.source.host,
    file: b.file,
    sequence: b.sequence,
    startPosition: b.startPosition,
    endPosition: b.endPosition,
    firstEventAt: b.firstEventAt,
    lastEventAt: b.lastEventAt,
    firstGtid: b.firstGtid,
    lastGtid: b.lastGtid,
    archivedThrough: b.archivedThrough,
    previous: b.previous,
  };
}

/**
 * The archiver's progress on an idle server: at `archivedThrough` (server time) the server's
 * log ended at (file, position) and every byte before it was already archived. Kept in the
 * repository beside the segments (clouds/<cloud>/.binlog-progress/<host>.json, rewritten
 * atomically), so a quiet period after the last event is recoverable although no segment
 * covers it.
 */
export interface ArchiveProgress {
  host: string;
  file: string;
  position: number;
  archivedThrough: string;
}

// a dot folder: not a component, so scans, the catalog and garbage collection pass it over
export const progressKey = (cloud: string, host: string) => `clouds/${cloud}/.binlog-progress/${host}.json`;

/** What the planner reads of a database backup. */
export interface PointLink extends ChainLink {
  completedAt: string;
  source: { host: string };
  mariadb: ChainLink['mariadb'] & { binlog: { file: string; position: number; gtid: string } | null };
}

/**
 * Where a point-in-time restore stops: a second (UTC, included), a transaction (its GTID,
 * included), or a byte position in one binlog file (every event starting before it is replayed).
 */
export type PitrTarget = { at: string } | { gtid: string } | { position: { file: string; position: number } };

export interface ReplayPlan {
  /** The chain to restore, full first; its last member is the base the binlogs replay onto. */
  chain: string[];
  base: string;
  baseAt: string;
  /** Segments to reassemble, file by file in order; each file's segments start at position 0. */
  files: { file: string; segments: string[] }[];
  startFile: string;
  startPosition: number;
  /** mariadb-binlog --stop-datetime (UTC): the first second not replayed (time targets). */
  stopDatetime: string | null;
  /** mariadb-binlog --stop-position=<GTID>: the last transaction replayed (inclusive). */
  stopGtid: string | null;
  /** mariadb-binlog --stop-position=<bytes> in the last file: the first byte not replayed. */
  stopPosition: number | null;
  /** The target, as asked (a time, a GTID, or file:position). */
  target: string;
}

export interface RecoverableRange {
  from: string;
  to: string;
  base: string;
  /** The same range as GTIDs (the base's gtid_binlog_pos – the last archived GTID) and binlog positions. */
  fromGtid: string | null;
  toGtid: string | null;
  fromPosition: string;
  toPosition: string;
}

export type PitrPlan = { plan: ReplayPlan } | { problem: string; ranges: RecoverableRange[] };

const sec = (iso: string) => Math.floor(Date.parse(iso) / 1000);
const isoSec = (s: number) => new Date(s * 1000).toISOString().replace('.000Z', 'Z');

/** domain-server-seq → its parts; null when it is not one GTID. */
export function parseGtid(g: string | null | undefined): { domain: number; server: number; seq: number } | null {
  const m = /^\s*(\d+)-(\d+)-(\d+)\s*$/.exec(g ?? '');
  return m ? { domain: Number(m[1]), server: Number(m[2]), seq: Number(m[3]) } : null;
}

/** The sequence number a gtid_binlog_pos list (e.g. "0-1-42,1-2-7") holds for `domain` (0: none yet). */
export function gtidPosSeq(list: string, domain: number): number {
  for (const g of list.split(',')) {
    const p = parseGtid(g);
    if (p && p.domain === domain) return p.seq;
  }
  return 0;
}

/** "mysql-bin.000042:1234" → file and byte position; null when it is not one. */
export function parseBinlogPosition(text: string): { file: string; position: number } | null {
  const m = /^\s*([^\s:/]+\.\d+):(\d+)\s*$/.exec(text);
  return m ? { file: m[1]!, position: Number(m[2]) } : null;
}

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
  // longest first at one start: a merged segment and the pieces it replaced may both be there for a moment
  for (const list of bySeq.values())
    list.sort((a, b) => a.startPosition - b.startPosition || b.endPosition - a.endPosition);
  const out: SegmentLink[] = [];
  let seq = seq0;
  let prevEnd: { file: string; end: number } | null = null;
  for (;;) {
    const list = bySeq.get(seq);
    if (!list || list[0]!.startPosition !== 0) break;
    const first = list[0]!;
    // the previous file must have been archived up to the size it was closed at
    if (
      prevEnd &&
      first.previous &&
      (first.previous.file !== prevEnd.file || first.previous.endPosition !== prevEnd.end)
    )
      break;
    let pos = 0;
    for (const s of list) {
      if (s.endPosition <= pos && s.startPosition < pos) continue; // inside a merged segment already taken
      if (s.startPosition !== pos) break;
      out.push(s);
      pos = s.endPosition;
    }
    if (out.length === 0) return null;
    prevEnd = { file: list[0]!.file, end: pos };
    if (pos !== Math.max(...list.map((s) => s.endPosition))) break; // a gap inside this file
    seq++;
  }
  return out.length ? out : null;
}

/**
 * Up to when a replay from `point` can reach (server time; every event before it is archived).
 * An idle server's progress counts when it stands exactly at the end of the run: nothing was
 * written between the run's last byte and the progress' time.
 */
function reach(point: PointLink, run: SegmentLink[] | null, progress: readonly ArchiveProgress[]): number | null {
  if (!run || !point.mariadb.binlog) return null;
  const b = point.mariadb.binlog;
  // the run must hold the base's position
  const holds =
    run.some((s) => s.file === b.file && s.endPosition >= b.position) ||
    run.some((s) => (binlogSequence(s.file) ?? 0) > (binlogSequence(b.file) ?? 0));
  if (!holds) return null;
  const last = run[run.length - 1]!;
  const idle = progress
    .filter((p) => p.host === last.host && p.file === last.file && p.position === last.endPosition)
    .map((p) => sec(p.archivedThrough));
  return Math.max(...run.map((s) => sec(s.archivedThrough)), ...idle);
}

interface Candidate {
  p: PointLink;
  run: SegmentLink[];
  fromMs: number;
  toSec: number;
  range: RecoverableRange;
}

/** Every intact restore point with a binlog position the archive can replay from, newest first. */
function candidates(
  points: readonly PointLink[],
  segments: readonly SegmentLink[],
  progress: readonly ArchiveProgress[],
): Candidate[] {
  const out: Candidate[] = [];
  for (const p of points) {
    const c = chainTo(points as PointLink[], p.id);
    if ('problem' in c || !p.mariadb.binlog) continue;
    const run = contiguousFrom(segments, p.source.host, p.mariadb.binlog.file);
    const r = reach(p, run, progress);
    const fromMs = Date.parse(p.completedAt);
    if (r === null || r * 1000 <= fromMs) continue;
    const b = p.mariadb.binlog;
    const last = run![run!.length - 1]!;
    const lastGtid = [...run!].reverse().find((s) => s.lastGtid)?.lastGtid ?? null;
    // every event of second s is archived once archivedThrough ≥ s + 1
    out.push({
      p,
      run: run!,
      fromMs,
      toSec: r - 1,
      range: {
        from: p.completedAt,
        to: isoSec(r - 1),
        base: p.id,
        fromGtid: b.gtid || null,
        toGtid: lastGtid ?? (b.gtid || null),
        fromPosition: `${b.file}:${b.position}`,
        toPosition: `${last.file}:${last.endPosition}`,
      },
    });
  }
  return out.sort((a, b) => b.fromMs - a.fromMs || (b.p.id < a.p.id ? -1 : 1));
}

/** Is (file, position) at or after the base's position? */
function atOrAfter(base: { file: string; position: number }, file: string, position: number): boolean {
  const a = binlogSequence(base.file) ?? 0;
  const f = binlogSequence(file) ?? 0;
  return f > a || (f === a && position >= base.position);
}

/** The run cut after the segment at index `last`, grouped by file. */
function filesUpTo(run: readonly SegmentLink[], last: number): { file: string; segments: string[] }[] {
  const files: { file: string; segments: string[] }[] = [];
  for (const s of run.slice(0, last + 1)) {
    let f = files[files.length - 1];
    if (!f || f.file !== s.file) files.push((f = { file: s.file, segments: [] }));
    f.segments.push(s.id);
  }
  return files;
}

/**
 * Where in `run` the transaction `gtid` ends at the latest: the index of the segment holding
 * the first later GTID of its domain (the transaction's last event is before that one's GTID
 * event), else the last segment of the file holding it. Null when the run does not hold it.
 * Located by the segments' first/last GTIDs in that domain (sequence numbers of one domain grow
 * through the log); a segment whose GTIDs are all of other domains is passed over.
 */
function locateGtid(run: readonly SegmentLink[], g: { domain: number; seq: number }): number | null {
  const seqIn = (x: string | null | undefined) => {
    const p = parseGtid(x);
    return p && p.domain === g.domain ? p.seq : null;
  };
  let holding = -1;
  for (let i = 0; i < run.length; i++) {
    const first = seqIn(run[i]!.firstGtid);
    const last = seqIn(run[i]!.lastGtid);
    if (holding < 0) {
      if (last !== null && last >= g.seq) {
        if (first !== null && first > g.seq) return null; // the log skips it: no such transaction here
        holding = i;
        if (last > g.seq) return i;
      }
    } else if (run[i]!.file !== run[holding]!.file) return i - 1;
    else if (first !== null || last !== null) return i;
  }
  return holding < 0 ? null : run.length - 1;
}

function formatRanges(shown: readonly RecoverableRange[], kind: 'at' | 'gtid' | 'position'): string {
  if (!shown.length)
    return 'nothing is recoverable to a point in time: there is no restore point with a binlog position whose binary logs are archived from it on';
  const one = (r: RecoverableRange) =>
    kind === 'at'
      ? `${r.from} – ${r.to}`
      : `${r.from} – ${r.to} (GTIDs ${r.fromGtid ?? 'none'} – ${r.toGtid ?? 'none'}, positions ${r.fromPosition} – ${r.toPosition})`;
  return `the recoverable range${shown.length > 1 ? 's are' : ' is'} ${shown.map(one).join(', ')}`;
}

/**
 * The restore for `target`: the newest intact restore point before it whose binlog position
 * the archive can replay from, and the segments up to the target. A target outside every
 * recoverable range is refused with the ranges there are (times, GTIDs and positions).
 */
export function planPointInTime(
  points: readonly PointLink[],
  segments: readonly SegmentLink[],
  target: string | PitrTarget,
  progress: readonly ArchiveProgress[] = [],
): PitrPlan {
  const tg: PitrTarget = typeof target === 'string' ? { at: target } : target;
  const all = candidates(points, segments, progress);
  const shown = mergeRanges(all.map((c) => c.range));
  const plan = (
    c: Candidate,
    last: number,
    stop: Pick<ReplayPlan, 'stopDatetime' | 'stopGtid' | 'stopPosition' | 'target'>,
  ): PitrPlan => {
    const chain = chainTo(points as PointLink[], c.p.id) as { chain: PointLink[] };
    const b = c.p.mariadb.binlog!;
    return {
      plan: {
        chain: chain.chain.map((x) => x.id),
        base: c.p.id,
        baseAt: c.p.completedAt,
        files: filesUpTo(c.run, last),
        startFile: b.file,
        startPosition: b.position,
        ...stop,
      },
    };
  };

  if ('gtid' in tg) {
    const g = parseGtid(tg.gtid);
    if (!g) return { problem: `"${tg.gtid}" is not a GTID (domain-server-sequence, e.g. 0-1-4711)`, ranges: [] };
    for (const c of all) {
      const baseSeq = gtidPosSeq(c.p.mariadb.binlog!.gtid, g.domain);
      if (baseSeq > g.seq) continue; // the backup already holds later transactions
      // the backup stands exactly at the target: only the segment holding its position is read
      const last =
        baseSeq === g.seq
          ? c.run.findIndex((s) => s.file === c.p.mariadb.binlog!.file && s.endPosition >= c.p.mariadb.binlog!.position)
          : locateGtid(c.run, g);
      if (last === null || last < 0) continue;
      return plan(c, last, {
        stopDatetime: null,
        stopGtid: `${g.domain}-${g.server}-${g.seq}`,
        stopPosition: null,
        target: `${g.domain}-${g.server}-${g.seq}`,
      });
    }
    return {
      problem: `GTID ${tg.gtid} cannot be recovered (not in the archive, or before the oldest restore point): ${formatRanges(shown, 'gtid')}`,
      ranges: shown,
    };
  }

  if ('position' in tg) {
    const { file, position } = tg.position;
    const name = `${file}:${position}`;
    if (binlogSequence(file) === null || position < 4)
      return {
        problem: `"${name}" is not a binlog position (file:byte offset, e.g. mysql-bin.000042:1234)`,
        ranges: [],
      };
    for (const c of all) {
      if (!atOrAfter(c.p.mariadb.binlog!, file, position)) continue;
      // events that start before the position are replayed: the segment whose range holds the byte before it is the last one read
      const last = c.run.findIndex((s) => s.file === file && s.startPosition < position && position <= s.endPosition);
      if (last < 0) continue;
      return plan(c, last, { stopDatetime: null, stopGtid: null, stopPosition: position, target: name });
    }
    return {
      problem: `binlog position ${name} cannot be recovered (not in the archive, or before the oldest restore point): ${formatRanges(shown, 'position')}`,
      ranges: shown,
    };
  }

  const t = Date.parse(tg.at);
  if (!Number.isFinite(t))
    return { problem: `"${tg.at}" is not a time (use ISO 8601 UTC, e.g. 2026-11-30T04:05:06Z)`, ranges: [] };
  const tSec = Math.floor(t / 1000);
  const fits = all.find((r) => r.fromMs <= t && tSec <= r.toSec);
  if (!fits) return { problem: `${isoSec(tSec)} cannot be recovered: ${formatRanges(shown, 'at')}`, ranges: shown };
  const b = fits.p.mariadb.binlog!;
  const stop = tSec + 1;
  let last = fits.run.length - 1;
  for (let i = 0; i < fits.run.length; i++) {
    const s = fits.run[i]!;
    // mariadb-binlog stops at the first event at or after the stop time: later segments are not read
    if (
      s.lastEventAt &&
      sec(s.lastEventAt) >= stop &&
      (binlogSequence(s.file)! > binlogSequence(b.file)! || s.endPosition > b.position)
    ) {
      last = i;
      break;
    }
  }
  return plan(fits, last, { stopDatetime: isoSec(stop), stopGtid: null, stopPosition: null, target: isoSec(tSec) });
}

function mergeRanges(ranges: readonly RecoverableRange[]): RecoverableRange[] {
  const sorted = [...ranges].sort((a, b) => a.from.localeCompare(b.from));
  const out: RecoverableRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && Date.parse(r.from) <= Date.parse(last.to) + 1000) {
      if (Date.parse(r.to) > Date.parse(last.to))
        Object.assign(last, { to: r.to, toGtid: r.toGtid, toPosition: r.toPosition });
    } else out.push({ ...r });
  }
  return out;
}

// ---- compaction -------------------------------------------------------------------------------
//
// Segments cut every few seconds are the right unit while they are fresh (a small RPO) and the
// wrong one afterwards: each is an artifact folder, a catalog entry and a manifest the planner
// reads (bench/catalog-growth.ts: at a day of 5 s segments, 17,280 of them, one catalog update
// takes ~0.8 s and the planner's scan ~8 s). Older contiguous segments of one file are merged
// into one segment artifact covering their whole range: same manifest fields, so restore,
// retention, verify and copies treat it as any segment.

/** A merged segment's id: its first piece's id plus its end, so it sorts with the pieces and never collides with one. */
export function mergedSegmentId(host: string, file: string, startPosition: number, endPosition: number): string {
  return `${binlogSegmentId(host, file, startPosition)}-${String(endPosition).padStart(12, '0')}`;
}

export interface CompactionPlan {
  /** Runs of contiguous segments of one file to merge, in order. */
  merge: { host: string; file: string; startPosition: number; endPosition: number; id: string; pieces: string[] }[];
  /** Segments inside a merged one (a compaction that died before removing them): remove. */
  covered: string[];
}

/**
 * What to merge: contiguous segments of one file, each archived at least `minAgeMs` before
 * `nowMs` (the live tail keeps its small segments), up to `maxBytes` of binlog per merged
 * segment, at most `maxPieces` pieces (one merge decrypts each), at least two. Covered
 * leftovers are named for removal. A merged segment short of the caps is merged again with the
 * pieces after it by a later pass (pieces = [merged, ...]), so a file ends in few segments.
 */
export function planCompaction(
  segments: readonly SegmentLink[],
  nowMs: number,
  minAgeMs: number,
  maxBytes: number,
  maxPieces = Infinity,
): CompactionPlan {
  const byFile = new Map<string, SegmentLink[]>();
  for (const s of segments)
    (byFile.get(`${s.host}\0${s.file}`) ?? byFile.set(`${s.host}\0${s.file}`, []).get(`${s.host}\0${s.file}`)!).push(s);
  const plan: CompactionPlan = { merge: [], covered: [] };
  for (const list of byFile.values()) {
    list.sort((a, b) => a.startPosition - b.startPosition || b.endPosition - a.endPosition);
    const kept: SegmentLink[] = [];
    for (const s of list) {
      const outer = kept.find((k) => k.startPosition <= s.startPosition && s.endPosition <= k.endPosition);
      if (outer) plan.covered.push(s.id);
      else kept.push(s);
    }
    let run: SegmentLink[] = [];
    const flush = () => {
      if (run.length >= 2) {
        const first = run[0]!;
        const last = run[run.length - 1]!;
        plan.merge.push({
          host: first.host,
          file: first.file,
          startPosition: first.startPosition,
          endPosition: last.endPosition,
          id: mergedSegmentId(first.host, first.file, first.startPosition, last.endPosition),
          pieces: run.map((s) => s.id),
        });
      }
      run = [];
    };
    for (const s of kept) {
      const old = Date.parse(s.archivedThrough) <= nowMs - minAgeMs;
      const prev = run[run.length - 1];
      if (!old || (prev && prev.endPosition !== s.startPosition)) flush();
      if (!old) continue;
      if (run.length && (s.endPosition - run[0]!.startPosition > maxBytes || run.length >= maxPieces)) flush();
      run.push(s);
    }
    flush();
  }
  return plan;
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

export function rpoStatus(
  nowMs: number,
  caughtUpAt: string | null,
  newestEventAt: string | null,
  rpoTargetSeconds: number,
): RpoStatus {
  const age = (iso: string | null) => (iso ? Math.max(0, (nowMs - Date.parse(iso)) / 1000) : null);
  const achieved = age(caughtUpAt);
  return {
    caughtUpAt,
    newestEventAt,
    achievedRpoSeconds: achieved,
    newestEventAgeSeconds: age(newestEventAt),
    rpoTargetSeconds,
    rpoMet: achieved === null ? null : achieved <= rpoTargetSeconds,
  };
}
