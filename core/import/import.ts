// Importing backups osbackup did not take: Kolla-Ansible's mariadb_backup files and the seed's
// catalog.csv entries. Pure: names and rows in, a plan out; shared by the import workflows,
// their activities and the unit tests.
//
// Kolla's names, as kolla's mariadb-server/backup.sh writes them (BACKUP_DIR = the
// mariadb_backup volume, mounted at /backup in the one-shot mariabackup container):
// - Kolla 12–20 (2021–2025), flat, with a `last_full_date` file:
//     mysqlbackup-<dd-mm-YYYY>-<epoch>.qp.xbc.xbs.gz                   full
//     incremental-<HH>-mysqlbackup-<dd-mm-YYYY>-<epoch>.qp.xbc.xbs.gz  incremental
//   (`--history=<last full date>`, incrementals `--incremental-history-name=<last full date>`)
// - Kolla 21+ (2025.2), a folder per backup, with a `last_full_file` file:
//     full-<dd-mm-YYYY-epoch>/mysqlbackup-<dd-mm-YYYY-epoch>.qp.xbc.xbs.gz
//     incr-<HH-MM-SS-dd-mm-YYYY>-since-<dd-mm-YYYY-epoch>/incremental-<HH-MM-SS-dd-mm-YYYY>-mysqlbackup-<dd-mm-YYYY-epoch>.qp.xbc.xbs.gz
//   (the incremental's own time is the container's clock, taken as UTC: Kolla containers run in UTC)
// - before 2019: `--compress` (qpress) streams without gzip, `.qp.xbc.xbs`: not importable
//   (MariaDB 10.11's mariabackup no longer decompresses qpress), reported as such.
// The kind in the name only orders the files; the xtrabackup_checkpoints inside decide.

export type ImportKind = 'full' | 'incremental';

/** Failure types that belong to one original (it is reported, the others still imported), not to the whole run. */
export const PER_FILE_FAILURES: readonly string[] = [
  'ImportSourceCorrupt',
  'ChecksumMismatch',
  'BackupNotFound',
  'DecryptionFailed',
];

export interface KollaBackupName {
  /** Path relative to the mariadb_backup folder. */
  rel: string;
  kind: ImportKind;
  /** When the backup started (UTC, ISO). */
  takenAt: string;
  layout: 'flat' | 'folders';
}

export interface NameProblem {
  rel: string;
  reason: string;
}

const SUFFIX = /\.(?:qp\.)?(?:xbc\.xbs|xbs|xb|xbstream)\.gz$/;
const DMY = '(\\d{2})-(\\d{2})-(\\d{4})';

function utcFromDmy(d: string, m: string, y: string, hh = '00', mm = '00', ss = '00'): number | null {
  const t = Date.UTC(Number(y), Number(m) - 1, Number(d), Number(hh), Number(mm), Number(ss));
  const back = new Date(t);
  // 31-02-2026 must not roll over into March
  if (
    back.getUTCDate() !== Number(d) ||
    back.getUTCMonth() !== Number(m) - 1 ||
    Number(hh) > 23 ||
    Number(mm) > 59 ||
    Number(ss) > 59
  )
    return null;
  return t;
}

function fromEpoch(epoch: string, d: string, m: string, y: string): number | null {
  if (utcFromDmy(d, m, y) === null) return null;
  const t = Number(epoch) * 1000;
  return Number.isSafeInteger(t) && t > 0 ? t : null;
}

/**
 * Recognises a Kolla mariadb_backup file by its path under the volume. Returns null for files
 * that are not backups at all (last_full_date, logs), a problem for a backup that cannot be
 * imported or whose name is damaged.
 */
export function parseKollaBackupName(rel: string): KollaBackupName | NameProblem | null {
  const parts = rel.replace(/^\.\//, '').split('/');
  const base = parts.at(-1) ?? '';
  if (!base.includes('mysqlbackup')) return null;
  if (/\.qp\.xbc\.xbs$|\.xbs$/.test(base))
    return {
      rel,
      reason:
        'a qpress-compressed stream (Kolla before 2019, mariabackup --compress): MariaDB 10.11 cannot decompress it; decompress it with an old mariabackup and qpress, then import the folder',
    };
  if (!SUFFIX.test(base))
    return { rel, reason: 'not a Kolla backup name (expected …mysqlbackup-<dd-mm-YYYY>-<epoch>.qp.xbc.xbs.gz)' };
  const stem = base.replace(SUFFIX, '');
  let m: RegExpExecArray | null;
  if (parts.length === 1) {
    if ((m = new RegExp(`^mysqlbackup-${DMY}-(\\d+)$`).exec(stem))) {
      const t = fromEpoch(m[4]!, m[1]!, m[2]!, m[3]!);
      if (t !== null) return { rel, kind: 'full', takenAt: new Date(t).toISOString(), layout: 'flat' };
    } else if ((m = new RegExp(`^incremental-(\\d{2})-mysqlbackup-${DMY}-(\\d+)$`).exec(stem))) {
      const t = fromEpoch(m[5]!, m[2]!, m[3]!, m[4]!);
      if (t !== null) return { rel, kind: 'incremental', takenAt: new Date(t).toISOString(), layout: 'flat' };
    }
  } else if (parts.length === 2) {
    const folder = parts[0]!;
    if (
      (m = new RegExp(`^mysqlbackup-${DMY}-(\\d+)$`).exec(stem)) &&
      folder === `full-${stem.slice('mysqlbackup-'.length)}`
    ) {
      const t = fromEpoch(m[4]!, m[1]!, m[2]!, m[3]!);
      if (t !== null) return { rel, kind: 'full', takenAt: new Date(t).toISOString(), layout: 'folders' };
    } else if (
      (m = new RegExp(`^incremental-(\\d{2})-(\\d{2})-(\\d{2})-${DMY}-mysqlbackup-${DMY}-(\\d+)$`).exec(stem)) &&
      folder.startsWith(`incr-${m[1]}-${m[2]}-${m[3]}-${m[4]}-${m[5]}-${m[6]}-since-`)
    ) {
      const t = utcFromDmy(m[4]!, m[5]!, m[6]!, m[1]!, m[2]!, m[3]!);
      if (t !== null) return { rel, kind: 'incremental', takenAt: new Date(t).toISOString(), layout: 'folders' };
    }
  }
  return {
    rel,
    reason: 'the name looks like a Kolla backup but its date, time or folder does not parse (renamed or damaged?)',
  };
}

export function isNameProblem(x: KollaBackupName | NameProblem): x is NameProblem {
  return 'reason' in x;
}

/** One backup found on the host: where, how big, its SHA-256 (read on the host). */
export interface ListedFile {
  rel: string;
  bytes: number;
  mtime: string;
  sha256: string;
}

/** What the repository already holds for the cloud, as the import needs it. */
export interface KnownArtifact {
  id: string;
  kind: ImportKind;
  fromLsn: string;
  toLsn: string;
  completedAt: string;
  originalSha256: string | null;
  /** host:path of the original, for imported artifacts. */
  originalPath?: string | null;
}

export interface ImportCandidate extends ListedFile {
  kind: ImportKind;
  takenAt: string;
}

export interface ImportPlan {
  /** Oldest first: a parent is always imported before what builds on it. */
  toImport: ImportCandidate[];
  already: { rel: string; id: string }[];
  problems: { rel: string; type: string; reason: string }[];
}

/** Sorts Kolla's files oldest first and drops those already imported (by their original SHA-256). */
export function planKollaImport(listed: ListedFile[], known: KnownArtifact[]): ImportPlan {
  const byOriginal = new Map(known.filter((k) => k.originalSha256).map((k) => [k.originalSha256!, k.id]));
  const plan: ImportPlan = { toImport: [], already: [], problems: [] };
  const seen = new Map<string, string>();
  const candidates: ImportCandidate[] = [];
  for (const f of listed) {
    const n = parseKollaBackupName(f.rel);
    if (n === null) continue;
    if (isNameProblem(n)) {
      plan.problems.push({ rel: f.rel, type: 'NotImportable', reason: n.reason });
      continue;
    }
    candidates.push({ ...f, kind: n.kind, takenAt: n.takenAt });
  }
  candidates.sort(byTakenAt);
  for (const c of candidates) {
    const id = byOriginal.get(c.sha256);
    if (id) plan.already.push({ rel: c.rel, id });
    else if (seen.has(c.sha256)) plan.already.push({ rel: c.rel, id: `(same bytes as ${seen.get(c.sha256)})` });
    else {
      seen.set(c.sha256, c.rel);
      plan.toImport.push(c);
    }
  }
  return plan;
}

export function byTakenAt(
  a: { takenAt: string; kind: ImportKind; rel: string },
  b: { takenAt: string; kind: ImportKind; rel: string },
): number {
  return (
    a.takenAt.localeCompare(b.takenAt) ||
    (a.kind === b.kind ? 0 : a.kind === 'full' ? -1 : 1) ||
    a.rel.localeCompare(b.rel)
  );
}

/**
 * The parent of an imported incremental: the artifact whose to_lsn is exactly where the
 * incremental starts. Several can end at the same LSN (an incremental taken while no
 * checkpoint happened ends where it began): the newest one not taken after the incremental
 * wins — what mariabackup's `--incremental-history-name` itself picked. None → the chain has
 * a gap and the incremental is not imported as part of one.
 */
export function parentByLsn(fromLsn: string, takenAt: string, known: KnownArtifact[]): KnownArtifact | null {
  const at = (s: string) => Date.parse(s);
  const matches = known
    .filter((k) => k.toLsn === fromLsn)
    .sort((a, b) => at(a.completedAt) - at(b.completedAt) || a.id.localeCompare(b.id));
  const before = matches.filter((k) => at(k.completedAt) <= at(takenAt));
  return before.at(-1) ?? matches.at(-1) ?? null;
}

/** An artifact id for an imported backup: by its own time, made unique against `taken` ids. */
export function importedId(kind: ImportKind, takenAt: string, taken: ReadonlySet<string>): string {
  const base = `db-${kind}-${takenAt.replace(/[-:]/g, '').replace(/\.\d{3}/, '')}`;
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) if (!taken.has(`${base}-${i}`)) return `${base}-${i}`;
}

// ---- the seed's catalog.csv -------------------------------------------------------------

export interface SeedCatalogRow {
  line: number;
  timestamp: string;
  type: string;
  level: string;
  path: string;
  size: string;
  checksum: string;
}

/**
 * The seed appends `timestamp,type,level,path,size,checksum` rows (no quoting; `du -sh`
 * sizes such as 1.2G; the checksum is empty where `sha256sum` was given a folder). A header
 * line is skipped; a row that does not have six fields is reported, never guessed at.
 */
export function parseSeedCatalog(text: string): {
  rows: SeedCatalogRow[];
  problems: { line: number; reason: string }[];
} {
  const rows: SeedCatalogRow[] = [];
  const problems: { line: number; reason: string }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    if (!raw.trim() || raw.startsWith('#')) return;
    const cols = raw.split(',').map((c) => c.trim());
    if (cols[0] === 'timestamp' && cols[1] === 'type') return;
    if (cols.length !== 6) {
      problems.push({
        line,
        reason: `expected 6 comma-separated fields (timestamp,type,level,path,size,checksum), found ${cols.length}`,
      });
      return;
    }
    const [timestamp, type, level, path, size, checksum] = cols as [string, string, string, string, string, string];
    if (!Number.isFinite(Date.parse(timestamp))) {
      problems.push({ line, reason: `timestamp "${timestamp}" is not a date` });
      return;
    }
    if (!path.startsWith('/')) {
      problems.push({ line, reason: `path "${path}" is not absolute` });
      return;
    }
    rows.push({
      line,
      timestamp: new Date(Date.parse(timestamp)).toISOString(),
      type,
      level,
      path,
      size,
      checksum: checksum.toLowerCase(),
    });
  });
  return { rows, problems };
}

/** What turns an original into an xbstream, in order: openssl enc -d, gzip -d, tar → xbstream. */
export type Decoder = 'openssl' | 'gzip' | 'tar';

/** How one seed entry is read, decided from its path alone. */
export interface SeedSource {
  /** A file is read as it is; a folder (a mariabackup --target-dir) is read as a tar. */
  kind: 'file' | 'folder';
  decode: Decoder[];
}

/**
 * `full_20261101_020000` → a folder; `….tar.gz.enc` → openssl, gzip, tar; `….xb.gz` → gzip;
 * a logical dump (`.sql`, `.sql.gz`) is no mariabackup backup and cannot join a chain.
 */
export function seedSource(path: string): SeedSource | { reason: string } {
  const base = path.split('/').at(-1) ?? '';
  const decode: Decoder[] = [];
  let rest = base;
  if (rest.endsWith('.enc')) {
    decode.push('openssl');
    rest = rest.slice(0, -4);
  }
  if (/\.(tgz)$/.test(rest)) return { kind: 'file', decode: [...decode, 'gzip', 'tar'] };
  if (rest.endsWith('.gz')) {
    decode.push('gzip');
    rest = rest.slice(0, -3);
  }
  if (rest.endsWith('.tar')) return { kind: 'file', decode: [...decode, 'tar'] };
  if (/\.(xb|xbs|xbstream|xbc\.xbs)$/.test(rest)) return { kind: 'file', decode };
  if (/\.(sql|dump)$/.test(rest))
    return { reason: 'a logical dump (mysqldump), not a mariabackup backup: restore it with the mariadb client' };
  if (decode.length)
    return {
      reason: `${base}: compressed or encrypted, but not a tar or xbstream inside (expected …tar.gz.enc, …xb.gz, …tar)`,
    };
  if (/\.[a-z0-9]{1,5}$/i.test(rest) && !/_\d{8}_\d{6}$/.test(rest))
    return {
      reason: `${base}: an unknown kind of file (a mariabackup folder, .tar[.gz][.enc] or .xb[.gz][.enc] is expected)`,
    };
  return { kind: 'folder', decode: ['tar'] };
}

export interface SeedCandidate {
  row: SeedCatalogRow;
  kind: ImportKind;
  source: SeedSource;
  /** The catalog's SHA-256 when it is one (64 hex digits), else null. */
  expectSha256: string | null;
}

/**
 * The database rows of the seed's catalog, oldest first, with how each is to be read; rows
 * of other types are reported as skipped (the seed's config/volume exports are not database
 * backups), never dropped silently.
 */
export function planSeedImport(rows: SeedCatalogRow[]): {
  candidates: SeedCandidate[];
  skipped: { line: number; path: string; reason: string }[];
} {
  const candidates: SeedCandidate[] = [];
  const skipped: { line: number; path: string; reason: string }[] = [];
  for (const row of rows) {
    if (row.type !== 'database') {
      skipped.push({
        line: row.line,
        path: row.path,
        reason: `type "${row.type}" is not a database backup (only database entries are imported)`,
      });
      continue;
    }
    const level = row.level.toLowerCase();
    const kind: ImportKind | null =
      level === 'full' ? 'full' : level === 'incremental' || level === 'inc' ? 'incremental' : null;
    if (!kind) {
      skipped.push({ line: row.line, path: row.path, reason: `level "${row.level}" is neither full nor incremental` });
      continue;
    }
    const source = seedSource(row.path);
    if ('reason' in source) {
      skipped.push({ line: row.line, path: row.path, reason: source.reason });
      continue;
    }
    candidates.push({ row, kind, source, expectSha256: /^[0-9a-f]{64}$/.test(row.checksum) ? row.checksum : null });
  }
  candidates.sort((a, b) =>
    byTakenAt(
      { takenAt: a.row.timestamp, kind: a.kind, rel: a.row.path },
      { takenAt: b.row.timestamp, kind: b.kind, rel: b.row.path },
    ),
  );
  return { candidates, skipped };
}
