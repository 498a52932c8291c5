// `osbackup describe <id>` in human form: what the artifact is, the chain a restore needs,
// what would break without it, its files and the recipe that restores it without osbackup.
import { humanBytes } from '../capacity/capacity.js';
import type { CatalogEntry } from './catalog.js';
import type { AnyManifest } from '../manifest/any-manifest.js';

export interface ArtifactDescription {
  target: string;
  location: string;
  entry: CatalogEntry;
  /** Parents first, ending with the artifact itself. */
  chain: CatalogEntry[];
  /** A parent named by the oldest member of `chain` that this target does not hold. */
  missingParent: string | null;
  /** Artifacts whose parent this is (what a deletion would break). */
  dependents: string[];
  /** Null when the manifest has gone since the catalog listed it. */
  manifest: AnyManifest | null;
  files: { key: string; bytes: number }[];
  recipe: string | null;
}

const state = (e: CatalogEntry): string =>
  `${e.check}${e.lastCheckedAt ? ` ${e.lastCheckedAt}` : ''} · ${e.verification}${e.lastVerifiedAt ? ` ${e.lastVerifiedAt}` : ''}`;

/** The manifest's own facts, per kind of artifact; kinds this build does not know show none. */
function details(m: AnyManifest): string[] {
  if (m.component === 'database') {
    const c = m.mariadb.checkpoints;
    const stable = m.tables.filter((t) => t.stable).length;
    return [
      `server        MariaDB ${m.mariadb.serverVersion}, mariabackup ${m.mariadb.mariabackupVersion}`,
      `LSN           ${c.fromLsn} → ${c.toLsn} (${c.backupType})`,
      `binlog        ${m.mariadb.binlog ? `${m.mariadb.binlog.file}:${m.mariadb.binlog.position}${m.mariadb.binlog.gtid ? ` GTID ${m.mariadb.binlog.gtid}` : ''} (point-in-time replay starts here)` : 'none recorded'}`,
      m.factsFrom === 'backup'
        ? m.factsReference
          ? `tables        ${m.tables.length} with row counts and checksums read from the backup by the restore on ${m.factsReference.host} at ${m.factsReference.readAt} (compared on restore)`
          : `tables        ${m.listedTables?.length ?? 0} listed; counts and checksums are read by the first verified restore (osbackup restore db --verify onto a scratch host)`
        : `tables        ${m.tables.length} recorded with row counts and checksums, ${stable} unchanged during the backup (compared on restore)`,
      `layers        ${[...m.artifact.layers].reverse().join(' → ')} (zstd level ${m.artifact.compression.level}${m.artifact.compression.where ? ` on the ${m.artifact.compression.where}` : ''})`,
      `encryption    OpenPGP ${m.artifact.encryption.cipher}${m.artifact.encryption.passphrase ? ', passphrase' : ''}${m.artifact.encryption.recipientFingerprints.length ? `, keys ${m.artifact.encryption.recipientFingerprints.join(', ')}` : ''}`,
      ...(m.imported
        ? [
            `imported      from ${m.imported.source} ${m.imported.host}:${m.imported.path} (original sha256 ${m.imported.originalSha256})`,
          ]
        : []),
    ];
  }
  if (m.component === 'control-plane') {
    return [
      `reason        ${m.reason === 'pre-restore' ? 'safety copy taken before a restore overwrote the hosts' : 'backup'}`,
      ...m.parts.map(
        (p) => `part          ${p.name} from ${p.host}:${p.source} — ${humanBytes(p.bytes)} stored, sha256 ${p.sha256}`,
      ),
      `parts digest  ${m.partsDigest} (sha256 over SHA256SUMS)`,
    ];
  }
  if (m.component === 'binlog') {
    const b = m.binlog;
    return [
      `range         ${b.file} bytes ${b.startPosition}–${b.endPosition} from server ${m.source.serverId} on ${m.source.host}`,
      `events        ${b.events}, ${b.firstEventAt ?? '-'} → ${b.lastEventAt ?? '-'}`,
      `GTIDs         ${b.firstGtid ?? '-'} → ${b.lastGtid ?? '-'}`,
      `archived      everything the server wrote before ${b.archivedThrough}`,
      ...(b.compacted
        ? [
            `merged from   ${b.compacted.pieces} segments archived ${b.compacted.firstLandedAt} → ${b.compacted.lastLandedAt} (compaction; worst landing delay ${b.compacted.worstLandingSeconds.toFixed(1)} s)`,
          ]
        : []),
    ];
  }
  return [];
}

export function describeText(d: ArtifactDescription): string {
  const e = d.entry;
  const lines = [
    `${e.id}  (${e.component} ${e.kind}${e.imported ? ', imported' : ''}, cloud ${e.cloud}, target ${d.target})`,
    `  taken         ${e.startedAt} → ${e.completedAt} on ${e.sourceHost}`,
    `  stored        ${humanBytes(e.bytes)}${e.streamBytes && e.streamBytes !== e.bytes ? ` (${humanBytes(e.streamBytes)} before compression)` : ''}, sha256 ${e.sha256}`,
    `  where         ${d.location.replace(/\/$/, '')}/${e.path}`,
    `  state         ${state(e)}`,
    ...(d.manifest
      ? details(d.manifest).map((l) => `  ${l}`)
      : ['  ! the manifest has gone since the catalog listed it: run `osbackup verify`']),
  ];
  if (d.chain.length > 1 || d.missingParent) {
    lines.push('chain (a restore needs every one, oldest first):');
    d.chain.forEach((c, i) =>
      lines.push(`  ${i + 1}. ${c.id}  ${c.kind}  ${c.completedAt}  ${state(c)}${c.id === e.id ? '   ← this' : ''}`),
    );
    if (d.missingParent)
      lines.push(
        `  ! ${d.missingParent}, the parent of ${d.chain[0]!.id}, is not on this target: the chain is broken and cannot be restored from here`,
      );
  }
  if (d.dependents.length) lines.push(`needed by: ${d.dependents.join(', ')} (retention keeps this while they exist)`);
  lines.push('files:');
  for (const f of d.files) lines.push(`  ${f.key.padEnd(44)} ${humanBytes(f.bytes)}`);
  lines.push('restore by hand (RESTORE.md, next to the files):');
  lines.push(
    ...(d.recipe ?? '(no RESTORE.md: this artifact cannot be restored by hand from its folder)')
      .trimEnd()
      .split('\n')
      .map((l) => `  ${l}`),
  );
  return lines.join('\n') + '\n';
}
