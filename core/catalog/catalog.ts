// Catalog rows: an index over manifests (and their verification records), always derived
// from the repository itself. CSV keeps the seed's columns first.
import type { CheckRecord, VerificationRecord } from '../manifest/manifest.js';
import type { AnyManifest } from '../manifest/any-manifest.js';
import { artifactDir } from '../manifest/manifest.js';

export type VerificationState = 'VERIFIED' | 'FAILED' | 'UNVERIFIED';
/** CHECKED: the stored bytes were re-read and matched (a scrub) — not the same as VERIFIED. */
export type CheckState = 'CHECKED' | 'CORRUPT' | 'MISSING' | 'UNCHECKED';

export interface CatalogEntry {
  id: string;
  cloud: string;
  component: string;
  kind: string;
  parentId: string | null;
  startedAt: string;
  completedAt: string;
  sourceHost: string;
  bytes: number;
  streamBytes: number;
  sha256: string;
  path: string;
  toLsn: string;
  binlog: string | null;
  verification: VerificationState;
  lastVerifiedAt: string | null;
  /** The target this row describes (the repository unless a copy). */
  target: string;
  check: CheckState;
  lastCheckedAt: string | null;
  /** Set for artifacts adopted from another tool (e.g. "kolla-mariadb_backup"). */
  imported: string | null;
  /** The run that took it: a scheduled tier run's id names the tier (`<cloud>-weekly-…`). Absent in indexes written before it was recorded. */
  workflowId?: string;
  /** Binlog segments: the first event's time and the instant the archive held every event up to (the report's RPO). */
  binlogSpan?: {
    firstEventAt: string | null;
    archivedThrough: string;
    compacted?: import('../pitr/segments.js').CompactedFrom;
  };
}

/** Rows of every target that could be read, and the ones that could not, with why. */
export interface CatalogListing {
  rows: CatalogEntry[];
  unavailable: { target: string; reason: string }[];
}

export function catalogEntry(
  m: AnyManifest,
  verifications: VerificationRecord[],
  checks: CheckRecord[] = [],
  target = 'local',
): CatalogEntry {
  const last = verifications.at(-1);
  const check = checks.at(-1);
  const common = {
    target,
    check: check ? check.result : ('UNCHECKED' as const),
    lastCheckedAt: check?.checkedAt ?? null,
    imported: 'imported' in m && m.imported ? m.imported.source : null,
    workflowId: m.workflowId,
  };
  if (m.component === 'control-plane') {
    // several sealed parts: the row's checksum is the manifest's digest over them
    return {
      id: m.id,
      cloud: m.cloud,
      component: m.component,
      kind: m.reason === 'pre-restore' ? 'pre-restore' : m.kind,
      parentId: null,
      startedAt: m.startedAt,
      completedAt: m.completedAt,
      sourceHost: [...new Set(m.parts.map((p) => p.host))].join('+'),
      bytes: m.parts.reduce((n, p) => n + p.bytes, 0),
      streamBytes: m.parts.reduce((n, p) => n + p.plainBytes, 0),
      sha256: m.partsDigest,
      path: artifactDir(m.cloud, m.component, m.id),
      toLsn: '',
      binlog: null,
      verification: last ? last.result : 'UNVERIFIED',
      lastVerifiedAt: last?.verifiedAt ?? null,
      ...common,
    };
  }
  if (m.component === 'dump') {
    // one sealed file per schema: the row's checksum is the digest over them (SHA256SUMS)
    const d = m.dump;
    return {
      id: m.id,
      cloud: m.cloud,
      component: m.component,
      kind: `logical (${d.schemas.map((s) => s.name).join(',')})`,
      parentId: null,
      startedAt: m.startedAt,
      completedAt: d.snapshotAt,
      sourceHost: m.source.host,
      bytes: d.schemas.reduce((n, s) => n + s.bytes, 0),
      streamBytes: d.schemas.reduce((n, s) => n + s.plainBytes, 0),
      sha256: m.partsDigest,
      path: artifactDir(m.cloud, m.component, m.id),
      toLsn: '',
      binlog: d.binlog ? `${d.binlog.file}:${d.binlog.position}` : null,
      verification: last ? last.result : 'UNVERIFIED',
      lastVerifiedAt: last?.verifiedAt ?? null,
      ...common,
    };
  }
  if (m.component === 'image') {
    const p = m.parts[0]!;
    return {
      id: m.id,
      cloud: m.cloud,
      component: m.component,
      kind: m.kind,
      parentId: null,
      startedAt: m.startedAt,
      completedAt: m.completedAt,
      sourceHost: 'glance',
      bytes: p.bytes,
      streamBytes: p.plainBytes,
      sha256: p.sha256,
      path: `${artifactDir(m.cloud, m.component, m.id)}/${p.file}`,
      toLsn: '',
      binlog: null,
      verification: last ? last.result : 'UNVERIFIED',
      lastVerifiedAt: last?.verifiedAt ?? null,
      ...common,
    };
  }
  if (m.component === 'binlog') {
    const b = m.binlog;
    return {
      id: m.id,
      cloud: m.cloud,
      component: m.component,
      kind: 'binlog',
      parentId: null,
      startedAt: m.startedAt,
      completedAt: m.completedAt,
      sourceHost: m.source.host,
      bytes: m.artifact.bytes,
      streamBytes: m.artifact.streamBytes,
      sha256: m.artifact.sha256,
      path: `${artifactDir(m.cloud, m.component, m.id)}/${m.artifact.file}`,
      toLsn: '',
      binlog: `${b.file}:${b.startPosition}-${b.endPosition}`,
      verification: last ? last.result : 'UNVERIFIED',
      lastVerifiedAt: last?.verifiedAt ?? null,
      ...common,
      binlogSpan: {
        firstEventAt: b.firstEventAt,
        archivedThrough: b.archivedThrough,
        ...(b.compacted ? { compacted: b.compacted } : {}),
      },
    };
  }
  return {
    id: m.id,
    cloud: m.cloud,
    component: m.component,
    kind: m.kind,
    parentId: m.parentId,
    startedAt: m.startedAt,
    completedAt: m.completedAt,
    sourceHost: m.source.host,
    bytes: m.artifact.bytes,
    streamBytes: m.artifact.streamBytes,
    sha256: m.artifact.sha256,
    path: `${artifactDir(m.cloud, m.component, m.id)}/${m.artifact.file}`,
    toLsn: m.mariadb.checkpoints.toLsn,
    binlog: m.mariadb.binlog ? `${m.mariadb.binlog.file}:${m.mariadb.binlog.position}` : null,
    verification: last ? last.result : 'UNVERIFIED',
    lastVerifiedAt: last?.verifiedAt ?? null,
    ...common,
  };
}

/** The seed's catalog.csv columns: timestamp,type,level,path,size,checksum (+ id, verification, target, check). */
export function catalogCsv(rows: CatalogEntry[]): string {
  const lines = ['timestamp,type,level,path,size,checksum,id,verification,target,check'];
  for (const r of rows)
    lines.push(
      [r.completedAt, r.component, r.kind, r.path, r.bytes, r.sha256, r.id, r.verification, r.target, r.check].join(
        ',',
      ),
    );
  return lines.join('\n') + '\n';
}

function human(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${u[i]}`;
}

export function catalogTable(rows: CatalogEntry[]): string {
  const head = ['ID', 'CLOUD', 'KIND', 'TAKEN (UTC)', 'HOST', 'SIZE', 'TARGET', 'CHECKED', 'VERIFIED', 'SHA-256'];
  const day = (t: string | null) => (t ? t.slice(0, 10) : '');
  const body = rows.map((r) => [
    r.id,
    r.cloud,
    r.imported ? `${r.kind} (imported)` : r.kind,
    r.completedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    r.sourceHost,
    human(r.bytes),
    r.target ?? '',
    r.check === 'UNCHECKED' || !r.check ? '-' : `${r.check} ${day(r.lastCheckedAt)}`.trim(),
    r.verification,
    r.sha256.slice(0, 16) + '…',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const fmt = (cols: string[]) =>
    cols
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [fmt(head), ...body.map(fmt)].join('\n') + '\n';
}
