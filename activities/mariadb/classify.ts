// Turning MariaDB client / mariabackup output into typed failures that name cause and fix
// (the seed's "MariaDB Backup Failure" table).
import type { ApplicationFailure } from '@temporalio/common';
import { fatal, transient, FailureType } from '../errors.js';

export function classifyMariadbError(
  host: string,
  what: string,
  code: number | null,
  stderr: string,
): ApplicationFailure {
  const tail = stderr.trim().split('\n').slice(-6).join(' | ');
  if (code === 97)
    return transient(
      FailureType.RemoteCommandFailed,
      `${host}: ${what}: cannot create a private temporary folder in /tmp`,
      'check /tmp on the host (full or read-only?)',
    );
  if (code === 127 || (/not found/.test(stderr) && /mariabackup|mariadb:/.test(stderr))) {
    return fatal(
      FailureType.RemoteCommandFailed,
      `${host}: ${what}: the command is not installed where it runs (${tail})`,
      'install mariadb-client / mariadb-backup on the host, or set containerRuntime so it runs inside the mariadb container',
    );
  }
  if (/Access denied for user/i.test(stderr)) {
    return fatal(
      FailureType.MariadbPrivileges,
      `${host}: ${what}: MariaDB refused the backup user's credentials (${tail})`,
      'check clouds.<cloud>.database.user and the password file/variable it references',
    );
  }
  if (/privilege|command denied/i.test(stderr)) {
    return fatal(
      FailureType.MariadbPrivileges,
      `${host}: ${what}: the backup user lacks a privilege (${tail})`,
      'GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR, SELECT ON *.* TO the backup user',
    );
  }
  if (
    /Can't connect|Connection refused|Lost connection|server has gone away|\(111\)|\(2002\)|\(2003\)|\(2013\)/i.test(
      stderr,
    )
  ) {
    return transient(
      FailureType.MariadbUnreachable,
      `${host}: ${what}: MariaDB is not answering (${tail})`,
      'check that the server (or the mariadb container) runs: mariadb-admin ping; restart it if needed',
    );
  }
  if (/Lock wait timeout|lock_wait_timeout|waiting for table|Unable to obtain lock/i.test(stderr)) {
    return transient(
      FailureType.MariadbLockTimeout,
      `${host}: ${what}: timed out waiting for long-running queries to let go of their locks (${tail})`,
      'it is retried automatically; if it keeps failing, run backups in a quieter period or raise clouds.<cloud>.database.ftwrlWaitTimeout',
    );
  }
  if (/No space left/i.test(stderr)) {
    return fatal(
      FailureType.DiskFull,
      `${host}: ${what}: no space left on the host (${tail})`,
      'free space on the host (the streamed backup itself needs none; mariabackup writes only small metadata there)',
    );
  }
  return transient(
    FailureType.MariadbBackupFailed,
    `${host}: ${what} failed with exit ${code ?? 'signal'} (${tail || 'no output'})`,
    'read the mariabackup output above',
  );
}
