// The hand-restore recipe written next to every database artifact: the stock commands that
// bring it back without osbackup (gpg, zstd, mbstream, mariabackup). The tool must never be
// the only way back.
import type { ArtifactManifest } from './manifest.js';

/** Where the repository keeps the artifact's folder: the recipe says how to fetch it from a bucket. */
export type RecipeLocation =
  | { type: 'local' }
  | { type: 's3'; endpoint?: string; region: string; bucket: string; prefix: string; forcePathStyle: boolean };

/** The parts of the repository's config the recipe names (never its credentials). */
export function repositoryLocation(
  r:
    | { type: 'local' }
    | { type: 's3'; endpoint?: string; region: string; bucket: string; prefix: string; forcePathStyle: boolean },
): RecipeLocation {
  return r.type === 's3'
    ? {
        type: 's3',
        endpoint: r.endpoint,
        region: r.region,
        bucket: r.bucket,
        prefix: r.prefix,
        forcePathStyle: r.forcePathStyle,
      }
    : { type: 'local' };
}

type S3Location = Extract<RecipeLocation, { type: 's3' }>;

/** The HTTP(S) URL of the bucket's clouds/ folder, as curl reaches it (path or virtual-host style). */
export function s3CloudsUrl(l: S3Location): string {
  const endpoint = (l.endpoint ?? `https://s3.${l.region}.amazonaws.com`).replace(/\/$/, '');
  if (l.forcePathStyle || !endpoint.startsWith('https://s3.')) return `${endpoint}/${l.bucket}/${l.prefix}clouds`;
  return endpoint.replace('https://', `https://${l.bucket}.`) + `/${l.prefix}clouds`;
}

/** The host name of a URL, as a netrc names the machine. */
const urlHost = (url: string) => /^[a-z]+:\/\/([^/:]+)/.exec(url)?.[1] ?? url;

function fetchSection(m: ArtifactManifest, l: S3Location, decryptWith: string, dir: string): string {
  const f = m.artifact.file;
  const rel = `${m.cloud}/database/${m.id}/${f}`;
  const s3Url = `s3://${l.bucket}/${l.prefix}clouds/${rel}`;
  const endpoint = l.endpoint ? ` --endpoint-url ${l.endpoint}` : '';
  const httpUrl = `${s3CloudsUrl(l)}/${rel}`;
  return `
0. Fetch it: this folder is in an S3 bucket (the osbackup repository), not on a disk:

   ${s3Url}${l.endpoint ? `\n   at ${l.endpoint} (region ${l.region})` : ` (region ${l.region})`}

   Any S3 client with the repository's access key (the files the osbackup config names under
   repository.accessKeyId and repository.secretAccessKey) fetches it. With the AWS CLI:

   export AWS_ACCESS_KEY_ID=$(cat /path/to/s3-access-key) AWS_SECRET_ACCESS_KEY=$(cat /path/to/s3-secret-key)
   aws${endpoint} --region ${l.region} s3 cp ${s3Url} ${f}

   With curl alone (7.75 or later). The key pair goes in a netrc on a pipe: never on a command
   line, and an access key with a ":" (Swift tempauth's "<account>:<user>") stays whole:

   curl -fsS --netrc-file <(printf 'machine %s login %s password %s\\n' ${urlHost(httpUrl)} "$(cat /path/to/s3-access-key)" "$(cat /path/to/s3-secret-key)") \\
     --aws-sigv4 "aws:amz:${l.region}:s3" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -o ${f} ${httpUrl}

   Then go on with step 1. Or skip the copy on disk: stream it into step 2 and check the SHA-256
   of what came before you prepare (step 3):

   mkdir -p ${dir}
   aws${endpoint} --region ${l.region} s3 cp ${s3Url} - | tee >(sha256sum > ${dir}.sha256) |
     ${decryptWith.replace(` ${f}`, '')} | zstd -d | mbstream -x -C ${dir}
   cat ${dir}.sha256   # must be ${m.artifact.sha256}

   \`bash restore.sh\` (fetched the same way) downloads and checks the whole chain itself: set
   S3_ACCESS_KEY_FILE and S3_SECRET_KEY_FILE.
`;
}

export function databaseRestoreRecipe(m: ArtifactManifest, where: RecipeLocation = { type: 'local' }): string {
  const dir = `/var/tmp/restore-${m.id}`;
  const f = m.artifact.file;
  const decryptWith = m.artifact.encryption.passphrase
    ? `gpg --batch --pinentry-mode loopback --passphrase-file /path/to/backup-passphrase --decrypt ${f}`
    : `gpg --decrypt ${f}`;
  const keyNote = [
    m.artifact.encryption.passphrase
      ? '- the backup passphrase (the file the osbackup config names under encryption.passphrase)'
      : null,
    ...m.artifact.encryption.recipientFingerprints.map(
      (fp) => `- or the secret key of OpenPGP key ${fp} in your keyring (then plain \`gpg --decrypt ${f}\`)`,
    ),
  ].filter((l): l is string => l !== null);
  const stable = m.tables.filter((t) => t.stable);
  const checks = stable.length
    ? stable
        .map(
          (t) =>
            `   SELECT COUNT(*) FROM ${t.table};   -- expect ${t.rows}\n   CHECKSUM TABLE ${t.table};     -- expect ${t.checksum ?? 'NULL'}`,
        )
        .join('\n')
    : m.factsFrom === 'backup'
      ? '   (the counts and checksums are in facts.json beside this file once a verified restore has read them)'
      : '   (no table facts were recorded)';
  const binlog = m.mariadb.binlog
    ? `Binary log position at the backup's consistency point: file ${m.mariadb.binlog.file}, position ${m.mariadb.binlog.position}, GTID ${m.mariadb.binlog.gtid || '(none)'}.\nReplay later changes with \`mariadb-binlog --start-position=${m.mariadb.binlog.position} ${m.mariadb.binlog.file} … | mariadb\`.`
    : 'No binary log position was recorded (binlog off on the source).';
  const chainNote =
    m.kind === 'incremental'
      ? `\n**This is an incremental backup** (parent ${m.parentId}): it restores only on top of its chain.\n\`bash restore.sh\` in this folder checks, unpacks, prepares and applies the whole chain in order.\n`
      : `\n\`bash restore.sh\` in this folder runs the steps below (set the variables at its top).\n`;
  const importNote = m.imported
    ? `\n**Imported** (${m.imported.source}) from \`${m.imported.host}:${m.imported.path}\` (${m.imported.originalBytes} bytes, SHA-256 \`${m.imported.originalSha256}\`; decoded with ${m.imported.decoded.join(', ') || 'nothing'}), re-protected on ${m.imported.importedAt}. No table facts were recorded when it was taken: check the restored data yourself.\n`
    : '';
  return `# Restoring ${m.id} by hand (no osbackup needed)
${chainNote}${importNote}
Cloud \`${m.cloud}\`, ${m.kind} MariaDB backup of host \`${m.source.host}\`, taken ${m.startedAt} → ${m.completedAt}.
Server ${m.mariadb.serverVersion}; taken with mariabackup ${m.mariadb.mariabackupVersion}.
Use a mariabackup of the same MariaDB major.minor version to prepare it.

File: \`${f}\` — ${m.artifact.bytes} bytes, SHA-256 \`${m.artifact.sha256}\`.
Layers, outermost first: OpenPGP (${m.artifact.encryption.cipher}) → zstd → MariaDB xbstream.
LSN range: ${m.mariadb.checkpoints.fromLsn} → ${m.mariadb.checkpoints.toLsn} (${m.mariadb.checkpoints.backupType}).

To decrypt you need one of:
${keyNote.join('\n')}
${where.type === 's3' ? fetchSection(m, where, decryptWith, dir) : ''}
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

export const RESTORE_SCRIPT = 'restore.sh';

/** restore.sh's download step for a chain in an S3 bucket (curl's SigV4; the key pair in a netrc on a pipe, never on a command line). */
const S3_FETCH = `if [ ! -f "$CLOUDS_DIR/\${CHAIN[0]%%|*}/$(cut -d'|' -f2 <<<"\${CHAIN[0]}")" ]; then
  [ -r "$S3_ACCESS_KEY_FILE" ] && [ -r "$S3_SECRET_KEY_FILE" ] || { echo "set S3_ACCESS_KEY_FILE and S3_SECRET_KEY_FILE to the repository's key files" >&2; exit 1; }
  echo "0/5 downloading the chain from $S3_CLOUDS_URL"
  rm -rf "$WORK_DIR" && mkdir -p -m 700 "$WORK_DIR/fetched"
  for row in "\${CHAIN[@]}"; do
    IFS='|' read -r dir file sum kind <<<"$row"
    mkdir -p "$WORK_DIR/fetched/$dir"
    curl -fsS --netrc-file <(printf 'machine %s login %s password %s\\n' "$(sed -E 's#^[a-z]+://([^/:]+).*#\\1#' <<<"$S3_CLOUDS_URL")" "$(cat "$S3_ACCESS_KEY_FILE")" "$(cat "$S3_SECRET_KEY_FILE")") \\
      --aws-sigv4 "aws:amz:$S3_REGION:s3" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -o "$WORK_DIR/fetched/$dir/$file" "$S3_CLOUDS_URL/$dir/$file"
  done
  CLOUDS_DIR=$WORK_DIR/fetched
else
  rm -rf "$WORK_DIR" && mkdir -p -m 700 "$WORK_DIR"
fi
`;

/**
 * A bash script that restores `chain` (full backup first, this artifact last) with stock tools
 * only. Named variables at the top; run from anywhere: paths are relative to the script.
 */
export function databaseRestoreScript(chain: ArtifactManifest[], where: RecipeLocation = { type: 'local' }): string {
  const m = chain[chain.length - 1]!;
  const rows = chain
    .map((c) => `  "${c.cloud}/database/${c.id}|${c.artifact.file}|${c.artifact.sha256}|${c.kind}"`)
    .join('\n');
  const checks = m.tables
    .filter((t) => t.stable)
    .map(
      (t) =>
        `#   SELECT COUNT(*) FROM ${t.table};  -- ${t.rows}      CHECKSUM TABLE ${t.table};  -- ${t.checksum ?? 'NULL'}`,
    )
    .join('\n');
  return `#!/usr/bin/env bash
# Restores ${m.id} (cloud ${m.cloud}, ${m.kind}, taken ${m.completedAt} from ${m.source.host}) by hand.
# Stock tools only: sha256sum, gpg, zstd, mbstream and mariabackup ${m.mariadb.mariabackupVersion}
# (use the same MariaDB major.minor as the server, ${m.mariadb.serverVersion}). osbackup is not needed.
#
#   PASSPHRASE_FILE=/root/backup-passphrase DATADIR=/var/lib/mysql bash ${RESTORE_SCRIPT}
#
# Stop MariaDB first (systemctl stop mariadb; Kolla: docker stop mariadb). The current data
# directory is moved aside, never deleted. STOP_AFTER=prepare leaves the prepared copy in WORK_DIR.
set -euo pipefail
PASSPHRASE_FILE=\${PASSPHRASE_FILE:-}                  # empty: decrypt with your OpenPGP secret key instead
WORK_DIR=\${WORK_DIR:-/var/tmp/restore-${m.id}}       # scratch: needs room for the unpacked backup
DATADIR=\${DATADIR:-/var/lib/mysql}                   # Kolla: the mariadb volume's _data folder
OWNER=\${OWNER:-mysql:mysql}                          # Kolla: 42434:42434
STOP_AFTER=\${STOP_AFTER:-}                           # "prepare" to stop before touching DATADIR
CLOUDS_DIR=\${CLOUDS_DIR:-$(cd "$(dirname "\${BASH_SOURCE[0]}")/../../.." && pwd)}   # <repository>/clouds
${
  where.type === 's3'
    ? `# The repository is an S3 bucket: the chain is downloaded from there into WORK_DIR and checked
# before anything is unpacked (CLOUDS_DIR is used instead when it holds the chain, e.g. a copy).
S3_CLOUDS_URL=\${S3_CLOUDS_URL:-${s3CloudsUrl(where)}}
S3_REGION=\${S3_REGION:-${where.region}}
S3_ACCESS_KEY_FILE=\${S3_ACCESS_KEY_FILE:-}           # the repository's access key id (repository.accessKeyId)
S3_SECRET_KEY_FILE=\${S3_SECRET_KEY_FILE:-}           # and its secret (repository.secretAccessKey)
`
    : ''
}
# The chain, full backup first: folder | file | SHA-256 | kind
CHAIN=(
${rows}
)

decrypt() {
  if [ -n "$PASSPHRASE_FILE" ]; then gpg --batch --quiet --pinentry-mode loopback --passphrase-file "$PASSPHRASE_FILE" --decrypt "$1"
  else gpg --batch --quiet --decrypt "$1"; fi
}

${where.type === 's3' ? S3_FETCH : ''}echo "1/5 checking the SHA-256 of every artifact"
for row in "\${CHAIN[@]}"; do
  IFS='|' read -r dir file sum kind <<<"$row"
  echo "$sum  $CLOUDS_DIR/$dir/$file" | sha256sum --check --quiet - || { echo "$dir/$file is corrupt: use an earlier restore point" >&2; exit 1; }
done

echo "2/5 decrypting, decompressing and extracting into $WORK_DIR"
${where.type === 's3' ? 'find "$WORK_DIR" -mindepth 1 -maxdepth 1 ! -name fetched -exec rm -rf {} +' : 'rm -rf "$WORK_DIR" && mkdir -p -m 700 "$WORK_DIR"'}
n=0
for row in "\${CHAIN[@]}"; do
  IFS='|' read -r dir file sum kind <<<"$row"
  mkdir "$WORK_DIR/$n"
  decrypt "$CLOUDS_DIR/$dir/$file" | zstd -d -q | mbstream -x -C "$WORK_DIR/$n"
  n=$((n + 1))
done

echo "3/5 preparing the full backup, then applying $((n - 1)) incremental(s) in order"
mariabackup --prepare --target-dir="$WORK_DIR/0" 2>"$WORK_DIR/prepare.log" || { tail "$WORK_DIR/prepare.log" >&2; exit 1; }
for ((i = 1; i < n; i++)); do
  mariabackup --prepare --target-dir="$WORK_DIR/0" --incremental-dir="$WORK_DIR/$i" 2>>"$WORK_DIR/prepare.log" || { tail "$WORK_DIR/prepare.log" >&2; exit 1; }
done
[ "$STOP_AFTER" = prepare ] && { echo "prepared in $WORK_DIR/0"; exit 0; }

echo "4/5 copying back into $DATADIR"
if [ -d "$DATADIR" ] && [ -n "$(ls -A "$DATADIR")" ]; then
  aside="$DATADIR.before-${m.id}"; [ -e "$aside" ] && aside="$aside.$(date +%s)"
  mv "$DATADIR" "$aside" && echo "   the previous data is in $aside"
fi
mkdir -p "$DATADIR"
mariabackup --copy-back --target-dir="$WORK_DIR/0" --datadir="$DATADIR" 2>"$WORK_DIR/copy-back.log" || { tail "$WORK_DIR/copy-back.log" >&2; exit 1; }
chown -R "$OWNER" "$DATADIR"

echo "5/5 done: start MariaDB (systemctl start mariadb; Kolla: docker start mariadb) and compare:"
echo "   the values recorded at backup time are listed at the end of this script"
# Recorded at backup time (tables unchanged during the backup window):
${checks}
`;
}
