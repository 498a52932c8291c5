// The hand-restore note beside every binlog segment: how to turn segments back into the
// server's binlog file and replay it with stock tools (gpg, zstd, mariadb-binlog, mariadb).
import type { BinlogManifest } from './segments.js';

export function binlogSegmentRecipe(m: BinlogManifest): string {
  const b = m.binlog;
  const f = m.artifact.file;
  const decrypt = m.artifact.encryption.passphrase
    ? `gpg --batch --pinentry-mode loopback --passphrase-file /path/to/backup-passphrase --decrypt`
    : 'gpg --decrypt';
  return `# Binary-log segment ${m.id}

Cloud \`${m.cloud}\`, host \`${m.source.host}\` (server_id ${m.source.serverId}): bytes ${b.startPosition}–${b.endPosition} of \`${b.file}\`
(${b.events} events, ${b.firstEventAt ?? '-'} → ${b.lastEventAt ?? '-'} UTC, GTID ${b.firstGtid ?? '-'} → ${b.lastGtid ?? '-'}).
Layers, outermost first: OpenPGP (${m.artifact.encryption.cipher}) → zstd → raw binlog bytes.
File \`${f}\`: ${m.artifact.bytes} bytes, SHA-256 \`${m.artifact.sha256}\`.

A segment is a byte range of the server's file, cut at event boundaries; a merged segment
(compaction: folder name \`…-<start>-<end>\`) holds the range of the segments it replaced.
Concatenating the segments of \`${b.file}\` in start-position order gives the file back exactly,
from byte 0 (the header and format description) on; \`mariadb-binlog\` reads it like the original.
At one start the longest segment is taken and segments inside it (pieces left beside their merged
segment) are skipped; a hole stops the loop:

    cd <repository>/clouds/${m.cloud}/binlog
    : > ${b.file}
    for d in binlog-${m.source.host}-${b.file}-*; do
      jq -r --arg d "$d" '"\\(.binlog.startPosition) \\(.binlog.endPosition) \\($d)"' "$d/manifest.json"
    done | sort -k1,1n -k2,2nr | {
      pos=0
      while read -r s e d; do
        [ "$e" -le "$pos" ] && continue
        [ "$s" -eq "$pos" ] || { echo "bytes $pos-$s of ${b.file} are missing" >&2; exit 1; }
        (cd "$d" && sha256sum -c <(jq -r '.artifact.sha256 + "  " + .artifact.file' manifest.json)) || exit 1
        ${decrypt} "$d/${f}" < /dev/null | zstd -dq >> ${b.file}
        pos=$e
      done
    }

Replay onto a restored backup up to a moment (UTC; the backup's RESTORE.md names the binlog
file and position it was taken at):

    TZ=UTC mariadb-binlog --start-position=<backup position> --stop-datetime="2026-01-01 12:00:00" \\
      ${b.file} <later files…> | mariadb
`;
}
