// The hand-restore recipe written next to every database artifact: the stock commands that
// bring it back without osbackup (gpg, zstd, mbstream, mariabackup). The tool must never be
// the only way back.
import type { ArtifactManifest } from './manifest.js';

export function databaseRestoreRecipe(m: ArtifactManifest): string {
  const dir = `/var/tmp/restore-${m.id}`;
  const f = m.artifact.file;
  const decryptWith = m.artifact.encryption.passphrase
    ? `gpg --batch --pinentry-mode loopback --passphrase-file /path/to/backup-passphrase --decrypt ${f}`
    : `gpg --decrypt ${f}`;
  const keyNote = [
    m.artifact.encryption.passphrase ? '- the backup passphrase (the file the osbackup config names under encryption.passphrase)' : null,
    ...m.artifact.encryption.recipientFingerprints.map((fp) => `- or the secret key of OpenPGP key ${fp} in your keyring (then plain \`gpg --decrypt ${f}\`)`),
  ].filter((l): l is string => l !== null);
  const stable = m.tables.filter((t) => t.stable);
  const checks = stable.length
    ? stable.map((t) => `   SELECT COUNT(*) FROM ${t.table};   -- expect ${t.rows}\n   CHECKSUM TABLE ${t.table};     -- expect ${t.checksum ?? 'NULL'}`).join('\n')
    : '   (no table facts were recorded)';
  const binlog = m.mariadb.binlog
    ? `Binary log position at the backup's consistency point: file ${m.mariadb.binlog.file}, position ${m.mariadb.binlog.position}, GTID ${m.mariadb.binlog.gtid || '(none)'}.\nReplay later changes with \`mariadb-binlog --start-position=${m.mariadb.binlog.position} ${m.mariadb.binlog.file} … | mariadb\`.`
    : 'No binary log position was recorded (binlog off on the source).';
  return `# Restoring ${m.id} by hand (no osbackup needed)

Cloud \`${m.cloud}\`, ${m.kind} MariaDB backup of host \`${m.source.host}\`, taken ${m.startedAt} → ${m.completedAt}.
Server ${m.mariadb.serverVersion}; taken with mariabackup ${m.mariadb.mariabackupVersion}.
Use a mariabackup of the same MariaDB major.minor version to prepare it.

File: \`${f}\` — ${m.artifact.bytes} bytes, SHA-256 \`${m.artifact.sha256}\`.
Layers, outermost first: OpenPGP (${m.artifact.encryption.cipher}) → zstd → MariaDB xbstream.
LSN range: ${m.mariadb.checkpoints.fromLsn} → ${m.mariadb.checkpoints.toLsn} (${m.mariadb.checkpoints.backupType}).

To decrypt you need one of:
${keyNote.join('\n')}

1. Check the file is intact:

   echo "${m.artifact.sha256}  ${f}" | sha256sum -c -

2. Decrypt, decompress and extract in one pipe:

   mkdir -p ${dir}
   ${decryptWith} | zstd -d | mbstream -x -C ${dir}

3. Prepare (makes the data files consistent):

   mariabackup --prepare --target-dir=${dir}

4. Stop MariaDB, keep the old data directory, copy back, give the files to the server's user, start:

   systemctl stop mariadb              # Kolla-Ansible: docker stop mariadb
   mv /var/lib/mysql /var/lib/mysql.before-restore   # Kolla: the mariadb volume's _data folder
   mariabackup --copy-back --target-dir=${dir} --datadir=/var/lib/mysql
   chown -R mysql:mysql /var/lib/mysql # Kolla: the container's mysql uid:gid (42434:42434)
   systemctl start mariadb             # Kolla-Ansible: docker start mariadb

5. Check the data against the values recorded at backup time:

${checks}

${binlog}
`;
}
