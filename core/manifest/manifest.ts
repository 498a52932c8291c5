// The self-describing manifest written beside every artifact. Pure types and
// helpers: imported by workflows, activities and the client alike.

export const MANIFEST_FILE = 'manifest.json';
export const RECIPE_FILE = 'RESTORE.md';
/** The reference facts of a backup whose facts come from its first verified restore. */
export const FACTS_FILE = 'facts.json';
export const MANIFEST_FORMAT = 1;

export type ArtifactKind = 'full' | 'incremental';

export interface TableFact {
  /** "schema.table" */
  table: string;
  rows: number;
  /** CHECKSUM TABLE result; null when the server could not compute one (e.g. table vanished). */
  checksum: string | null;
}

export interface RecordedTableFact extends TableFact {
  /**
   * True when the row count and checksum were identical before and after the backup window:
   * the backup then holds exactly these values and a restore must reproduce them. A table
   * written during the backup has no single "true" value to compare against.
   */
  stable: boolean;
}

/** A table as the live server's catalog lists it: nothing of its rows is read. */
export interface ListedTable {
  table: string;
  engine: string | null;
  /** information_schema's estimate (InnoDB statistics), never a count. */
  estimatedRows: number;
}

/**
 * The exact facts of a backup, read from its first verified restore (exact at the backup's
 * LSN), kept beside the manifest in facts.json and compared by every later restore.
 */
export interface ReferenceFacts {
  formatVersion: typeof MANIFEST_FORMAT;
  backupId: string;
  cloud: string;
  toLsn: string;
  readAt: string;
  /** The host the restore that read them ran on, and its workflow. */
  host: string;
  workflowId: string;
  serverVersion: string;
  tables: TableFact[];
}

export interface DbFacts {
  serverVersion: string;
  tables: TableFact[];
}

export interface Checkpoints {
  backupType: string;
  fromLsn: string;
  toLsn: string;
  lastLsn: string;
}

export interface BinlogPosition {
  file: string;
  position: number;
  gtid: string;
}

export interface EncryptionInfo {
  format: 'openpgp';
  cipher: 'AES256';
  passphrase: boolean;
  /** Fingerprints of the public keys the artifact is encrypted to — never a secret. */
  recipientFingerprints: string[];
}

/**
 * Where an imported artifact came from: a backup osbackup did not take (Kolla's
 * mariadb_backup volume, the seed's folders), re-protected into osbackup's format.
 */
export interface ImportedFrom {
  source: 'kolla-mariadb_backup' | 'seed-catalog';
  host: string;
  /** The original file or folder on that host. */
  path: string;
  /** SHA-256 and size of the original bytes as read (a folder: of the xbstream made from it). */
  originalSha256: string;
  originalBytes: number;
  /** What turned the original into an xbstream, in order (gzip -d, openssl enc -d, mbstream -c). */
  decoded: string[];
  importedAt: string;
  /** The seed catalog's row for it, when there was one (its checksum column, checked when present). */
  catalogRow?: { timestamp: string; level: string; size: string; checksum: string };
}

export interface ArtifactManifest {
  formatVersion: typeof MANIFEST_FORMAT;
  id: string;
  cloud: string;
  component: 'database';
  kind: ArtifactKind;
  parentId: string | null;
  startedAt: string;
  completedAt: string;
  workflowId: string;
  source: { host: string; address: string; containerRuntime: string };
  artifact: {
    file: string;
    /** Bytes as stored (encrypted). */
    bytes: number;
    /** SHA-256 of the stored bytes, hex. */
    sha256: string;
    /** Bytes of the raw xbstream before compression. */
    streamBytes: number;
    /** Outermost last: decrypt, then decompress, then `mbstream -x`. */
    layers: ['xbstream', 'zstd', 'openpgp'];
    /** `where`: the host that ran zstd (absent in manifests older than the setting: the worker). */
    compression: { format: 'zstd'; level: number; where?: 'source' | 'worker' };
    encryption: EncryptionInfo;
  };
  mariadb: {
    serverVersion: string;
    mariabackupVersion: string;
    checkpoints: Checkpoints;
    binlog: BinlogPosition | null;
  };
  /**
   * Empty for imported artifacts (nobody read the facts when the original was taken) and, until
   * its first verified restore, for a backup whose facts come from the backup (`factsFrom`).
   * Readers of the repository fill it from facts.json once that restore has read them.
   */
  tables: RecordedTableFact[];
  /** `backup`: `tables` come from the first verified restore (facts.json); absent or `live`: read on the live server. */
  factsFrom?: 'live' | 'backup';
  /** With factsFrom `backup`: the tables the live server listed when the backup was taken. */
  listedTables?: ListedTable[];
  /** Set by the repository reader when `tables` came from facts.json. */
  factsReference?: { readAt: string; host: string; workflowId: string };
  /** Set when the artifact was imported rather than taken by osbackup. */
  imported?: ImportedFrom;
  /** Set when the database is a Galera cluster: the donor and the cluster position (grastate.dat of a restore). */
  galera?: import('../galera/donor.js').GaleraManifestSection;
  timings: { streamSeconds: number; totalSeconds: number };
  tools: { zstd: string; gpg: string; osbackup: string };
  restoreRecipe: string;
}

/** Every kind of manifest a repository holds, told apart by `component`. */
/** A database artifact staged by an activity (a backup stream or an import), ready for its manifest. */
export interface StagedDatabaseArtifact {
  stagingDir: string;
  file: string;
  bytes: number;
  sha256: string;
  streamBytes: number;
  checkpoints: Checkpoints;
  binlog: BinlogPosition | null;
  mariabackupVersion: string;
  serverVersion: string;
  encryption: EncryptionInfo;
  compressionLevel: number;
  tools: { zstd: string; gpg: string };
  source: { host: string; address: string; containerRuntime: string };
}

/** The manifest's artifact section for a staged database artifact. */
export function databaseArtifactSection(
  s: StagedDatabaseArtifact,
  compressedOn: 'source' | 'worker',
): ArtifactManifest['artifact'] {
  return {
    file: s.file,
    bytes: s.bytes,
    sha256: s.sha256,
    streamBytes: s.streamBytes,
    layers: ['xbstream', 'zstd', 'openpgp'],
    compression: { format: 'zstd', level: s.compressionLevel, where: compressedOn },
    encryption: s.encryption,
  };
}

/** Where an artifact lives inside a repository: clouds/<cloud>/<component>/<id>/ */
export function artifactDir(cloud: string, component: string, id: string): string {
  return `clouds/${cloud}/${component}/${id}`;
}

export type VerificationResult = 'VERIFIED' | 'FAILED';

export interface TableComparison {
  table: string;
  /** null when nothing was recorded before: this restore read the reference (`recorded`). */
  expectedRows: number | null;
  actualRows: number | null;
  expectedChecksum: string | null;
  actualChecksum: string | null;
  /**
   * "equal", "different", "missing" (not in the restored database), "unstable" (changed during
   * the backup; not compared), or "recorded" (read for the first time from this restore, exact at
   * the backup's LSN, and kept as the reference; "unreadable" when no checksum could be read).
   */
  outcome: 'equal' | 'different' | 'missing' | 'unstable' | 'recorded' | 'unreadable';
}

export interface VerificationRecord {
  formatVersion: typeof MANIFEST_FORMAT;
  backupId: string;
  cloud: string;
  verifiedAt: string;
  workflowId: string;
  targetHost: string;
  result: VerificationResult;
  artifactSha256Matched: boolean;
  tablesCompared: number;
  tables: TableComparison[];
}

/**
 * A scrub's finding for one artifact on one target: its stored bytes re-read and hashed.
 * CHECKED means only that — the hashes matched. VERIFIED (a VerificationRecord) means a
 * restore proved the data; the two words are kept apart everywhere.
 */
export type CheckResult = 'CHECKED' | 'CORRUPT' | 'MISSING';

export interface CheckedFile {
  rel: string;
  expectedSha256: string;
  expectedBytes: number;
  actualSha256: string | null;
  actualBytes: number | null;
  /** ok; corrupt (same size, other bytes); truncated (other size); missing (no object). */
  outcome: 'ok' | 'corrupt' | 'truncated' | 'missing';
}

export interface CheckRecord {
  formatVersion: typeof MANIFEST_FORMAT;
  backupId: string;
  cloud: string;
  component: string;
  target: string;
  checkedAt: string;
  workflowId: string;
  result: CheckResult;
  files: CheckedFile[];
}

/** Check records live beside the manifest: <artifact dir>/checks/<checkedAt>.json */
export function checkRecordKey(cloud: string, component: string, id: string, checkedAt: string): string {
  return `${artifactDir(cloud, component, id)}/checks/${checkedAt.replace(/[:.]/g, '')}.json`;
}
