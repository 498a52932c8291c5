// The manifest of a merged binlog segment, from its pieces' manifests. Pure: used by the merge
// activity and unit-tested. A merged segment is an ordinary segment of a longer byte range
// (same fields, same artifact layout), so restore, retention, verify, copies and the catalog
// need nothing new; `compacted` only keeps what the report's RPO series read from the pieces.
import type { BinlogManifest, CompactedFrom } from './segments.js';

/** Why `pieces` cannot be merged into one segment, or null when they can. */
export function mergeProblem(pieces: readonly BinlogManifest[]): string | null {
  if (pieces.length < 2) return `a merge needs at least two segments, got ${pieces.length}`;
  const first = pieces[0]!;
  for (let i = 1; i < pieces.length; i++) {
    const p = pieces[i]!;
    const prev = pieces[i - 1]!;
    if (p.cloud !== first.cloud || p.source.host !== first.source.host || p.binlog.file !== first.binlog.file) {
      return `${p.id} is not of ${first.source.host}'s ${first.binlog.file} in cloud ${first.cloud}`;
    }
    if (p.binlog.startPosition !== prev.binlog.endPosition)
      return `${p.id} starts at ${p.binlog.startPosition}, not where ${prev.id} ends (${prev.binlog.endPosition})`;
  }
  return null;
}

const ms = (iso: string | null | undefined) => (iso ? Date.parse(iso) : NaN);
const minIso = (xs: (string | null)[]) => xs.filter((x): x is string => !!x).sort()[0] ?? null;
const maxIso = (xs: (string | null)[]) =>
  xs
    .filter((x): x is string => !!x)
    .sort()
    .at(-1) ?? null;

/**
 * The report's view of the pieces: when they were published, and the worst delay between an
 * event being written and the segment holding it landing (the same measure as report.ts's
 * binlogRpoSeries: from max(previous piece's archivedThrough, own first event) to completion;
 * the first piece, whose predecessor is not at hand, has none).
 * A piece that is itself merged contributes what it recorded.
 */
export function compactedFrom(pieces: readonly BinlogManifest[]): CompactedFrom {
  let n = 0;
  let worst = 0;
  const landed: string[] = [];
  pieces.forEach((p, i) => {
    const c = p.binlog.compacted;
    if (c) {
      n += c.pieces;
      worst = Math.max(worst, c.worstLandingSeconds);
      landed.push(c.firstLandedAt, c.lastLandedAt);
      return;
    }
    n++;
    landed.push(p.completedAt);
    // the first piece's predecessor is not among the pieces (and a file's first event is its
    // format description, written when the file was opened): like the report, it has no measure
    if (i === 0) return;
    const from = Math.max(ms(pieces[i - 1]!.binlog.archivedThrough), ms(p.binlog.firstEventAt) || 0);
    if (Number.isFinite(from)) worst = Math.max(worst, (ms(p.completedAt) - from) / 1000);
  });
  landed.sort();
  return {
    pieces: n,
    firstLandedAt: landed[0]!,
    lastLandedAt: landed.at(-1)!,
    worstLandingSeconds: Math.max(0, worst),
  };
}

export interface MergedArtifact {
  id: string;
  startedAt: string;
  completedAt: string;
  workflowId: string;
  artifact: BinlogManifest['artifact'];
  tools: BinlogManifest['tools'];
}

/**
 * The merged segment's manifest: the byte range, events and times span the pieces (first/last
 * GTID in log order, event times min/max, archivedThrough the last piece's), the first piece's
 * `previous` (the link to the file before), the new artifact's hash and sizes.
 */
export function mergedManifest(pieces: readonly BinlogManifest[], a: MergedArtifact): BinlogManifest {
  const problem = mergeProblem(pieces);
  if (problem) throw new Error(problem);
  const first = pieces[0]!;
  const last = pieces[pieces.length - 1]!;
  const bs = pieces.map((p) => p.binlog);
  return {
    formatVersion: first.formatVersion,
    id: a.id,
    cloud: first.cloud,
    component: 'binlog',
    kind: 'binlog',
    parentId: null,
    startedAt: a.startedAt,
    completedAt: a.completedAt,
    workflowId: a.workflowId,
    source: { ...last.source },
    binlog: {
      file: first.binlog.file,
      sequence: first.binlog.sequence,
      startPosition: first.binlog.startPosition,
      endPosition: last.binlog.endPosition,
      events: bs.reduce((n, b) => n + b.events, 0),
      firstEventAt: minIso(bs.map((b) => b.firstEventAt)),
      lastEventAt: maxIso(bs.map((b) => b.lastEventAt)),
      firstGtid: bs.find((b) => b.firstGtid)?.firstGtid ?? null,
      lastGtid: [...bs].reverse().find((b) => b.lastGtid)?.lastGtid ?? null,
      serverIds: [...new Set(bs.flatMap((b) => b.serverIds))].sort((x, y) => x - y),
      archivedThrough: maxIso(bs.map((b) => b.archivedThrough))!,
      previous: first.binlog.previous,
      compacted: compactedFrom(pieces),
    },
    artifact: a.artifact,
    tools: a.tools,
    restoreRecipe: first.restoreRecipe,
  };
}
