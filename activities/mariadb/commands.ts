// Shell scripts run on a database host. Credentials travel on the SSH channel's stdin into a
// 0600 option file in a private temporary folder, so they never appear on a command line
// (`ps`) or in Temporal history; the file is removed when the command ends.
import type { HostConfig } from '../../config/schema.js';
import type { BinlogPosition, Checkpoints } from '../../core/manifest/manifest.js';
import { inServiceContext, shJoin, shQuote } from '../ssh/quote.js';
import { globalGrants } from '../../core/mariadb/grants.js';

export interface DbCredentials {
  user: string;
  password: string;
}

/**
 * A MariaDB option file carrying the credentials. The host's own option file is included
 * first so its socket/datadir settings apply and our user/password (read later) win:
 * mariabackup accepts only one --defaults-file / --defaults-extra-file, given first.
 */
export function credentialOptionFile(c: DbCredentials, hostDefaultsFile?: string): string {
  const q = (v: string) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const body = `user=${q(c.user)}\npassword=${q(c.password)}\n`;
  const include = hostDefaultsFile ? `!include ${hostDefaultsFile}\n` : '';
  return `${include}[client]\n${body}[mariabackup]\n${body}`;
}

type DbHost = Pick<HostConfig, 'containerRuntime' | 'containers'> & { mariadb?: { defaultsFile?: string } };

/** With a host option file it is !included by ours, so ours replaces the defaults; else ours adds to them. */
function defaultsArgs(host: DbHost): string {
  return host.mariadb?.defaultsFile ? `--defaults-file="$d/c.cnf"` : `--defaults-extra-file="$d/c.cnf"`;
}

/**
 * Wraps `body` (which may use "$d/c.cnf") so that the first `secretBytes` bytes of stdin become
 * the option file; the folder is removed on exit. `keepDir` keeps "$d" (minus the secret).
 */
function withSecretFile(secretBytes: number, body: string, dirExpr = '$(mktemp -d /tmp/osbackup.XXXXXX)'): string {
  return [
    'umask 077',
    `d=${dirExpr}`,
    'mkdir -p "$d" || exit 97',
    `head -c ${secretBytes} > "$d/c.cnf" || exit 97`,
    `${body}`,
    'rc=$?',
    'rm -f "$d/c.cnf"',
    'exit $rc',
  ].join('\n');
}

/** Run SQL with the batch client (-N -B: tab-separated, no headers). */
export function sqlScript(host: DbHost, secretBytes: number, sql: string): string {
  const body = `mariadb ${defaultsArgs(host)} -N -B -e ${shQuote(sql)}; rc=$?; rm -rf "$d"; (exit $rc)`;
  return inServiceContext(host, host.containers.mariadb, withSecretFile(secretBytes, body));
}

/**
 * Streams `mariabackup --backup --stream=xbstream` to stdout. `workDir` receives only the
 * small metadata files (--extra-lsndir): no data is copied on the controller.
 */
export function backupStreamScript(
  host: DbHost,
  secretBytes: number,
  workDir: string,
  extraArgs: string[] = [],
  compress?: { level: number },
): string {
  const body = `mariabackup ${defaultsArgs(host)} --backup --stream=xbstream --target-dir="$d/work" --extra-lsndir="$d/lsn" ${shJoin(extraArgs)}`;
  const backup = inServiceContext(host, host.containers.mariadb, withSecretFile(secretBytes, body, shQuote(workDir)));
  // zstd runs on the host, outside any container (Kolla's images need not have it); -vv makes it
  // report the exact byte counts in and out, which the manifest records
  return compress ? `${backup} | zstd -${compress.level} -T0 -vv -c` : backup;
}

/** zstd -vv's last summary line: "(2035096064 B => 575066339 B, …)". */
export function parseZstdSummary(stderr: string): { inBytes: number; outBytes: number } | null {
  const all = [...stderr.matchAll(/\(\s*(\d+) B =>\s+(\d+) B/g)];
  const m = all.at(-1);
  return m ? { inBytes: Number(m[1]), outBytes: Number(m[2]) } : null;
}

/** Reads back the metadata the streamed backup left in `workDir`, then removes it. */
export function backupMetadataScript(host: DbHost, workDir: string): string {
  const w = shQuote(workDir);
  const script = `cat ${w}/lsn/xtrabackup_checkpoints && echo '--osbackup--' && cat ${w}/lsn/xtrabackup_info; rc=$?; rm -rf ${w}; exit $rc`;
  return inServiceContext(host, host.containers.mariadb, script);
}

export function parseCheckpoints(text: string): Checkpoints {
  const kv = parseKeyValues(text);
  const need = (k: string) => {
    const v = kv.get(k);
    if (v === undefined) throw new Error(`xtrabackup_checkpoints has no ${k}`);
    return v;
  };
  return {
    backupType: need('backup_type'),
    fromLsn: need('from_lsn'),
    toLsn: need('to_lsn'),
    lastLsn: need('last_lsn'),
  };
}

/** xtrabackup_info's `binlog_pos = filename 'mysql-bin.000002', position '342', GTID of the last change '0-1-3'` */
export function parseBinlogFromInfo(text: string): BinlogPosition | null {
  const v = parseKeyValues(text).get('binlog_pos');
  if (!v) return null;
  const m = /filename '([^']*)', position '(\d+)'(?:, GTID of the last change '([^']*)')?/.exec(v);
  if (!m) return null;
  return { file: m[1]!, position: Number(m[2]), gtid: m[3] ?? '' };
}

export function parseToolVersion(infoText: string): string {
  return parseKeyValues(infoText).get('tool_version') ?? 'unknown';
}

export function parseServerVersionFromInfo(infoText: string): string {
  return parseKeyValues(infoText).get('server_version') ?? 'unknown';
}

function parseKeyValues(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) m.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return m;
}

export function quoteIdent(schemaDotTable: string): string {
  const i = schemaDotTable.indexOf('.');
  const q = (s: string) => '`' + s.replace(/`/g, '``') + '`';
  return `${q(schemaDotTable.slice(0, i))}.${q(schemaDotTable.slice(i + 1))}`;
}

export const LIST_TABLES_SQL =
  "SELECT CONCAT(table_schema,'.',table_name) FROM information_schema.tables WHERE table_type='BASE TABLE' AND table_schema NOT IN ('mysql','information_schema','performance_schema','sys') ORDER BY 1";

/**
 * The version and every base table with its engine and estimated row count, from the server's
 * catalog only: no table is opened for reading (innodb_stats_on_metadata is off by default).
 */
export const LIST_TABLES_WITH_STATS_SQL =
  "SELECT 'version', VERSION(); SELECT 'table', CONCAT(table_schema,'.',table_name), IFNULL(engine,''), IFNULL(table_rows,0) FROM information_schema.tables WHERE table_type='BASE TABLE' AND table_schema NOT IN ('mysql','information_schema','performance_schema','sys') ORDER BY 2;";

export function parseTableList(output: string): {
  serverVersion: string;
  tables: { table: string; engine: string | null; estimatedRows: number }[];
} {
  let serverVersion = 'unknown';
  const tables: { table: string; engine: string | null; estimatedRows: number }[] = [];
  for (const line of output.split('\n')) {
    const cols = line.split('\t');
    if (cols[0] === 'version' && cols.length === 2) serverVersion = cols[1]!;
    else if (cols[0] === 'table' && cols.length === 4)
      tables.push({ table: cols[1]!, engine: cols[2] || null, estimatedRows: Number(cols[3]) || 0 });
  }
  return { serverVersion, tables };
}

/** One batch: the version, then per table a COUNT(*) line and a CHECKSUM TABLE line. */
export function factsSql(tables: string[]): string {
  const parts = ["SELECT 'version', VERSION()"];
  for (const t of tables) {
    parts.push(`SELECT 'count', ${sqlString(t)}, COUNT(*) FROM ${quoteIdent(t)}`);
    parts.push(`CHECKSUM TABLE ${quoteIdent(t)}`);
  }
  return parts.join(';\n') + ';';
}

function sqlString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export function parseFacts(
  output: string,
  tables: string[],
): { serverVersion: string; tables: { table: string; rows: number; checksum: string | null }[] } {
  let serverVersion = 'unknown';
  const rows = new Map<string, number>();
  const sums = new Map<string, string | null>();
  for (const line of output.split('\n')) {
    if (!line) continue;
    const cols = line.split('\t');
    if (cols[0] === 'version') serverVersion = cols[1] ?? 'unknown';
    else if (cols[0] === 'count' && cols.length === 3) rows.set(cols[1]!, Number(cols[2]));
    else if (cols.length === 2) sums.set(cols[0]!, cols[1] === 'NULL' ? null : cols[1]!);
  }
  return {
    serverVersion,
    tables: tables
      .filter((t) => rows.has(t))
      .map((t) => ({ table: t, rows: rows.get(t)!, checksum: sums.get(t) ?? null })),
  };
}

/**
 * Stops a mariabackup (and its shell) left by an earlier attempt of the same backup, found by
 * the tag in its folder name, and removes its metadata folder. "[o]" keeps the pattern from
 * matching this very shell.
 */
export function leftoverScript(backupId: string): string {
  const pattern = shQuote(`[o]sbackup-${backupId}-`);
  return [
    `if pkill -TERM -f ${pattern}; then echo stopped; sleep 1; pkill -KILL -f ${pattern}; fi`,
    `rm -rf /tmp/osbackup-${shQuote(backupId)}-*`,
    'true',
  ].join('\n');
}

/** What the backup user needs on *.* (the seed's grant list, with MariaDB 10.5+ names). */
export const REQUIRED_GRANTS = ['RELOAD', 'PROCESS', 'LOCK TABLES', 'BINLOG MONITOR', 'SELECT'] as const;

/** The required global privileges that `SHOW GRANTS` output does not grant. */
export function missingGrants(showGrants: string): string[] {
  const { all, have } = globalGrants(showGrants);
  if (all) return [];
  // REPLICATION CLIENT is the pre-10.5 name of BINLOG MONITOR
  if (have.has('REPLICATION CLIENT')) have.add('BINLOG MONITOR');
  return REQUIRED_GRANTS.filter((p) => !have.has(p));
}

/** `mariadb-dump <args>` to stdout, credentials from the option file on stdin (never on the command line). */
export function dumpScript(host: DbHost, secretBytes: number, args: string[]): string {
  const body = `mariadb-dump ${defaultsArgs(host)} ${shJoin(args)}`;
  return inServiceContext(
    host,
    host.containers.mariadb,
    withSecretFile(secretBytes, `${body}; rc=$?; rm -rf "$d"; (exit $rc)`),
  );
}
