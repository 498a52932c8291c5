// Logical dumps: `mariadb-dump` of chosen schemas from ONE consistent snapshot, one sealed SQL
// file per schema, as a self-contained restore point (no parent). Pure: the manifest contract
// (read by the single-service restore too), the hand-restore recipe, and the rules that turn a
// dump's output into per-schema files.
//
// Contract (kept stable for its consumers): folder clouds/<cloud>/dump/<id>/ (artifactDir),
// manifest component 'dump', kind 'logical', and the `dump` section below.
import { globalGrants } from '../mariadb/grants.js';
import type { EncryptionInfo, MANIFEST_FORMAT } from '../manifest/manifest.js';

export const DUMP = 'dump';

export interface DumpSchemaFile {
  name: string;
  /** e.g. nova.sql.zst.gpg */
  file: string;
  /** Stored (sealed) bytes and their SHA-256. */
  bytes: number;
  sha256: string;
  /** The plain SQL of this schema's file and its SHA-256. */
  plainBytes: number;
  plainSha256: string;
  /** Base tables (views not counted). */
  tables: number;
}

export interface DumpSection {
  /**
   * Server time (UTC) read once the dump's snapshot was established: the dump holds no change
   * committed after it (a safe base for a point-in-time replay up to any later time).
   */
  snapshotAt: string;
  /** Server time read just before the dump started: the snapshot is not older than this. */
  snapshotNotBefore: string;
  /** gtid_binlog_pos at the snapshot (null: binary logging off). */
  gtid: string | null;
  /** Binlog file and position at the snapshot (null: binary logging off). */
  binlog: { file: string; position: number } | null;
  serverVersion: string;
  /** `mariadb-dump --version` on the host that ran it. */
  dumpTool: string;
  /** The options the dump ran with (credentials are never among them). */
  options: string[];
  schemas: DumpSchemaFile[];
}

export interface DumpManifest {
  formatVersion: typeof MANIFEST_FORMAT;
  id: string;
  cloud: string;
  component: 'dump';
  kind: 'logical';
  parentId: null;
  startedAt: string;
  completedAt: string;
  workflowId: string;
  source: { host: string; address: string; containerRuntime: string };
  dump: DumpSection;
  /** SHA-256 over the files' "<sha256>  <file>\n" lines (the SHA256SUMS file beside them). */
  partsDigest: string;
  compression: { format: 'zstd'; level: number; where: 'worker' };
  encryption: EncryptionInfo;
  tools: { zstd: string; gpg: string; osbackup: string };
  restoreRecipe: string;
}

export function isDumpManifest(m: { component: string }): m is DumpManifest {
  return m.component === 'dump';
}

/** One schema's file in a dump, or undefined when the dump does not hold it. */
export function dumpSchema(m: DumpManifest, name: string): DumpSchemaFile | undefined {
  return m.dump.schemas.find((s) => s.name === name);
}

/** dump-20261130T061500Z */
export function dumpId(compactUtc: string): string {
  return `dump-${compactUtc}`;
}

/** File name of a schema inside the folder; schema names are restricted so this stays a plain name. */
export function dumpFileName(schema: string): string {
  return `${schema}.sql.zst.gpg`;
}

/** Schemas MariaDB keeps for itself: never dumped unless named. */
export const SYSTEM_SCHEMAS = ['mysql', 'information_schema', 'performance_schema', 'sys'] as const;

/** A schema name osbackup dumps by name: it becomes a file name and a shell/SQL word. */
export const SCHEMA_NAME = /^[A-Za-z0-9_$]{1,64}$/;

/**
 * Which schemas to dump: the ones asked for (each must exist), else the configured list, else
 * every non-system schema on the server. Returns the list or why it cannot be done.
 */
export function chooseSchemas(
  present: string[],
  asked: string[] | undefined,
  configured: string[] | undefined,
): { schemas: string[] } | { problem: string } {
  const want = asked?.length
    ? asked
    : configured?.length
      ? configured
      : present.filter((s) => !(SYSTEM_SCHEMAS as readonly string[]).includes(s));
  const bad = want.filter((s) => !SCHEMA_NAME.test(s));
  if (bad.length) return { problem: `schema names must be letters, digits, "_" or "$": ${bad.join(', ')}` };
  const missing = want.filter((s) => !present.includes(s));
  if (missing.length) return { problem: `not on the server: ${missing.join(', ')} (present: ${present.join(', ')})` };
  if (!want.length) return { problem: 'the server holds no schema outside the system ones' };
  return { schemas: [...new Set(want)] };
}

/** What the dump user needs on *.* (checked before a dump, and named in the refusal). */
export const DUMP_GRANTS = ['SELECT', 'SHOW VIEW', 'TRIGGER', 'EVENT'] as const;

/** The dump privileges that `SHOW GRANTS` output does not grant globally. */
export function missingDumpGrants(showGrants: string): string[] {
  const { all, have } = globalGrants(showGrants);
  if (all) return [];
  return DUMP_GRANTS.filter((p) => !have.has(p));
}

/** "<sha256>  <file>" lines for `sha256sum -c SHA256SUMS` in the dump folder. */
export function dumpSums(schemas: Pick<DumpSchemaFile, 'sha256' | 'file'>[]): string {
  return schemas.map((s) => `${s.sha256}  ${s.file}\n`).join('');
}

/** Binlog position and GTID as mariadb-dump --master-data=2 --gtid writes them (commented out). */
export function parseDumpPosition(header: string): {
  binlog: { file: string; position: number } | null;
  gtid: string | null;
} {
  const pos = /^-- CHANGE MASTER TO MASTER_LOG_FILE='([^']+)', MASTER_LOG_POS=(\d+);$/m.exec(header);
  const gtid = /^-- SET GLOBAL gtid_slave_pos='([^']*)';$/m.exec(header);
  return { binlog: pos ? { file: pos[1]!, position: Number(pos[2]) } : null, gtid: gtid ? gtid[1]! : null };
}

/** The hand-restore recipe written next to a dump. */
export function dumpRecipe(m: Omit<DumpManifest, 'partsDigest' | 'restoreRecipe'>): string {
  const dec = (f: string) =>
    m.encryption.passphrase
      ? `gpg --batch --pinentry-mode loopback --passphrase-file /path/to/backup-passphrase --decrypt ${f}`
      : `gpg --decrypt ${f}`;
  const keys = [
    m.encryption.passphrase
      ? '- the backup passphrase (the file the osbackup config names under encryption.passphrase)'
      : null,
    ...m.encryption.recipientFingerprints.map(
      (fp) => `- or the secret key of OpenPGP key ${fp} in your keyring (then plain \`gpg --decrypt <file>\`)`,
    ),
  ].filter((l): l is string => l !== null);
  const d = m.dump;
  const client =
    m.source.containerRuntime === 'none' ? 'mariadb' : `${m.source.containerRuntime} exec -i mariadb mariadb`;
  const rows = d.schemas
    .map((s) => `| ${s.name} | \`${s.file}\` | ${s.tables} | ${s.plainBytes} | \`${s.sha256}\` |`)
    .join('\n');
  const one = d.schemas[0]?.file ?? 'nova.sql.zst.gpg';
  return `# Restoring logical dump ${m.id} by hand (no osbackup needed)

Cloud \`${m.cloud}\`, dumped from ${m.source.host} (MariaDB ${d.serverVersion}, ${d.dumpTool}) with
\`mariadb-dump ${d.options.join(' ')}\`: every schema comes from ONE consistent snapshot taken
between ${d.snapshotNotBefore} and ${d.snapshotAt} (UTC).
${d.binlog ? `Binary log position at the snapshot: ${d.binlog.file}:${d.binlog.position}${d.gtid ? `, gtid_binlog_pos ${d.gtid}` : ''} (replay binlogs from there for a point-in-time recovery).` : 'Binary logging was off on the source: this dump is no point-in-time base.'}

| schema | file | tables | SQL bytes | SHA-256 of the file |
|---|---|---|---|---|
${rows}

Each file is OpenPGP (${m.encryption.cipher}) around zstd around plain SQL for the stock
\`mariadb\` client. It starts with \`DROP DATABASE IF EXISTS\` + \`CREATE DATABASE\` + \`USE\`:
importing it REPLACES that schema on the server you point it at (and only that schema), with
its tables, views, triggers, routines and events. Users and grants are not in it.

To decrypt you need one of:
${keys.join('\n')}

1. Check the files: \`sha256sum -c SHA256SUMS\` (in this folder).
2. Import one schema (as an account that may create and drop it, e.g. root over the socket):

       ${dec(one)} | zstd -d | ${client}

   or every schema of the dump, one after the other:

       for f in *.sql.zst.gpg; do ${dec('"$f"')} | zstd -d | ${client} || break; done

3. Look first without importing: \`${dec(one)} | zstd -d | less\`.

A client older than the one that dumped (MariaDB before 10.5.25/10.6.18/10.11.8) stops at the
first line with "Unknown command '\\-'": that line only switches the newer client into sandbox
mode; skip it with \`| tail -n +2\` between \`zstd -d\` and the client.

A dump restores across MariaDB versions (it is SQL, not data files): the way out of the
"incompatible backup version" case of a physical backup.
`;
}

// ---- splitting one dump stream into per-schema files ---------------------------------------

/**
 * Reads mariadb-dump's output line by line and says where each line goes: the shared header
 * (SET statements, the binlog position) that every schema file starts with, one schema's body,
 * or the shared footer every file ends with. mariadb-dump marks each schema with a comment
 * block "--\n-- Current Database: `x`\n--" (twice for a schema with views: they come in a
 * second pass). A marker counts only outside DELIMITER blocks (routine, trigger and event
 * bodies are verbatim user text) and only for a schema that was asked for.
 */
export class DumpSplitter {
  private state: 'header' | 'body' = 'header';
  private current: string | null = null;
  private delimiter = ';';
  private pendingDash = false;
  /** Lines that may be the footer; they go to the current schema if another marker follows. */
  private tail: string[] = [];
  readonly header: string[] = [];
  readonly tables = new Map<string, number>();
  /** The GTID comment mariadb-dump defers to the end of its output. */
  gtidLine: string | null = null;

  constructor(
    private readonly schemas: readonly string[],
    private readonly emit: (schema: string, text: string) => void,
  ) {
    for (const s of schemas) this.tables.set(s, 0);
  }

  /** One line without its "\n". */
  line(l: string): void {
    const marker = this.delimiter === ';' ? /^-- Current Database: `((?:[^`]|``)+)`$/.exec(l) : null;
    const name = marker ? marker[1]!.replace(/``/g, '`') : null;
    if (name !== null && this.schemas.includes(name)) {
      // everything held back belongs to the schema before this marker
      if (this.current !== null) for (const t of this.tail) this.emit(this.current, t + '\n');
      this.tail = [];
      this.pendingDash = false;
      this.state = 'body';
      this.current = name;
      this.emit(name, '--\n' + l + '\n');
      return;
    }
    if (this.state === 'header') {
      if (this.pendingDash) this.header.push('--');
      this.pendingDash = l === '--';
      if (!this.pendingDash) this.header.push(l);
      return;
    }
    // a marker's opening "--" is held until the next line shows whether a marker follows
    if (this.pendingDash) {
      this.pendingDash = false;
      this.body('--');
    }
    if (l === '--' && this.delimiter === ';' && !this.tail.length) {
      this.pendingDash = true;
      return;
    }
    this.body(l);
  }

  private body(l: string): void {
    const d = /^DELIMITER (\S+)\s*$/.exec(l);
    if (d) this.delimiter = d[1]!;
    if (this.delimiter === ';' && l.startsWith("-- SET GLOBAL gtid_slave_pos='")) this.gtidLine = l;
    if (this.delimiter === ';' && /^CREATE TABLE `/.test(l))
      this.tables.set(this.current!, (this.tables.get(this.current!) ?? 0) + 1);
    // the footer (session settings restored, "Dump completed") starts with the TIME_ZONE reset;
    // held back until the end or the next marker, so a look-alike line in a body cannot cut it
    if (this.tail.length || (this.delimiter === ';' && l.startsWith('/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE'))) {
      this.tail.push(l);
      return;
    }
    this.emit(this.current!, l + '\n');
  }

  /** After the last line: the footer every file ends with; throws when the stream is not a whole dump. */
  finish(): string {
    if (this.state === 'header') throw new Error('the dump output holds no schema');
    if (this.pendingDash) {
      this.pendingDash = false;
      this.body('--');
    }
    const footer = this.tail.join('\n') + '\n';
    if (!/^-- Dump completed/m.test(footer))
      throw new Error('the dump output ends without "-- Dump completed": it was cut short');
    return footer;
  }

  headerText(): string {
    return this.header.join('\n') + '\n';
  }
}

/** A bash script beside the files: checks them, then imports the named schemas (default: all) with stock tools. */
export function dumpRestoreScript(m: Pick<DumpManifest, 'id' | 'cloud' | 'source' | 'dump'>): string {
  const rows = m.dump.schemas.map((s) => `  "${s.name}|${s.file}|${s.sha256}"`).join('\n');
  return `#!/usr/bin/env bash
# Imports schemas of logical dump ${m.id} (cloud ${m.cloud}, from ${m.source.host}, snapshot ${m.dump.snapshotAt})
# into the MariaDB server the client reaches. Stock tools only: sha256sum, gpg, zstd, mariadb.
#
#   PASSPHRASE_FILE=/root/backup-passphrase MARIADB="mariadb --defaults-file=/root/.my.cnf" bash restore.sh [schema ...]
#
# Each named schema (default: every one in the dump) is DROPPED and re-created from the dump.
set -euo pipefail
PASSPHRASE_FILE=\${PASSPHRASE_FILE:-}   # empty: decrypt with your OpenPGP secret key instead
MARIADB=\${MARIADB:-mariadb}             # Kolla: "docker exec -i mariadb mariadb -uroot -p<password>"
cd "$(dirname "\${BASH_SOURCE[0]}")"

# schema | file | SHA-256
FILES=(
${rows}
)

decrypt() {
  if [ -n "$PASSPHRASE_FILE" ]; then gpg --batch --quiet --pinentry-mode loopback --passphrase-file "$PASSPHRASE_FILE" --decrypt "$1"
  else gpg --batch --quiet --decrypt "$1"; fi
}

want=("$@")
picked() { [ \${#want[@]} -eq 0 ] || [[ " \${want[*]} " == *" $1 "* ]]; }
# every file is checked before anything is imported
for row in "\${FILES[@]}"; do
  IFS='|' read -r schema file sum <<<"$row"
  picked "$schema" || continue
  echo "$sum  $file" | sha256sum -c --quiet - || { echo "$file is corrupt: nothing was imported" >&2; exit 1; }
done
for row in "\${FILES[@]}"; do
  IFS='|' read -r schema file sum <<<"$row"
  picked "$schema" || continue
  echo "importing $schema from $file"
  decrypt "$file" | zstd -dq | $MARIADB
done
echo done
`;
}
