// The control plane as one restore unit: Kolla's deploy tree, every Keystone host's Fernet and
// credential keys, the RabbitMQ definitions. One folder, one manifest, one sealed file per part.
// Pure: key-set comparison and tree diffs, shared by workflows, activities and the CLI.
import type { EncryptionInfo } from '../manifest/manifest.js';
import { MANIFEST_FORMAT } from '../manifest/manifest.js';

/** One member of a tar archive as recorded in the manifest (never its content). */
export interface TarEntry {
  path: string;
  type: 'file' | 'directory' | 'symlink' | 'other';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** SHA-256 of the content, files only. */
  sha256: string | null;
  linkname?: string;
}

export type ControlPlanePartKind = 'kolla-config' | 'keystone-keys' | 'rabbitmq-definitions';

export interface ControlPlanePart {
  name: string;
  kind: ControlPlanePartKind;
  host: string;
  /** Where it came from on the host (folder, or container:folder). */
  source: string;
  file: string;
  /** Stored (sealed) bytes and their SHA-256. */
  bytes: number;
  sha256: string;
  /** The plaintext stream (tar or JSON) and its SHA-256. */
  plainBytes: number;
  plainSha256: string;
  format: 'tar' | 'json';
  entries?: TarEntry[];
  /** Counts of what a definitions file holds (vhosts, users, queues, …). */
  summary?: Record<string, number>;
}

export interface KeySetReport {
  /** Every Keystone host holds the same Fernet and credential keys. */
  consistent: boolean;
  /** Highest Fernet key index (the primary key), per host. */
  epochs: Record<string, number | null>;
  differences: string[];
}

export interface ControlPlaneManifest {
  formatVersion: typeof MANIFEST_FORMAT;
  id: string;
  cloud: string;
  component: 'control-plane';
  kind: 'control-plane';
  parentId: null;
  startedAt: string;
  completedAt: string;
  workflowId: string;
  /** Why it was taken: a backup run, or the safety copy before a restore overwrote a target. */
  reason: 'backup' | 'pre-restore';
  parts: ControlPlanePart[];
  /** SHA-256 over the parts' "<sha256>  <file>\n" lines (sha256sum -c format), set at publish. */
  partsDigest: string;
  keystone: KeySetReport | null;
  compression: { format: 'zstd'; level: number };
  encryption: EncryptionInfo;
  tools: { zstd: string; gpg: string; osbackup: string };
  restoreRecipe: string;
}

export const CONTROL_PLANE = 'control-plane';

/** Part file names inside the artifact folder. */
export function partFile(kind: ControlPlanePartKind, host: string): string {
  if (kind === 'kolla-config') return `kolla-config.${host}.tar.zst.gpg`;
  if (kind === 'keystone-keys') return `keystone-keys.${host}.tar.zst.gpg`;
  return `rabbitmq-definitions.${host}.json.zst.gpg`;
}

const KEY_DIRS = ['fernet-keys/', 'credential-keys/'];

/** The key files of a keystone-keys part: path → SHA-256. */
export function keyHashes(entries: TarEntry[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of entries)
    if (e.type === 'file' && KEY_DIRS.some((d) => e.path.startsWith(d)) && e.sha256) m.set(e.path, e.sha256);
  return m;
}

/** The Fernet primary key's index (Keystone's "highest number wins"). */
export function fernetEpoch(entries: TarEntry[]): number | null {
  const idx = entries
    .filter((e) => e.type === 'file' && /^fernet-keys\/\d+$/.test(e.path))
    .map((e) => Number(e.path.slice('fernet-keys/'.length)));
  return idx.length ? Math.max(...idx) : null;
}

/**
 * Tokens minted on one Keystone host validate on another only when both hold the same keys:
 * any key present on one host and absent or different on another is a difference.
 */
export function compareKeySets(perHost: Record<string, TarEntry[]>): KeySetReport {
  const hosts = Object.keys(perHost).sort();
  const hashes = Object.fromEntries(hosts.map((h) => [h, keyHashes(perHost[h]!)]));
  const all = [...new Set(hosts.flatMap((h) => [...hashes[h]!.keys()]))].sort();
  const differences: string[] = [];
  for (const key of all) {
    const holders = hosts.filter((h) => hashes[h]!.has(key));
    const missing = hosts.filter((h) => !hashes[h]!.has(key));
    if (missing.length) differences.push(`${key}: only on ${holders.join(', ')} (missing on ${missing.join(', ')})`);
    const distinct = new Set(holders.map((h) => hashes[h]!.get(key)));
    if (distinct.size > 1) differences.push(`${key}: content differs between ${holders.join(', ')}`);
  }
  const epochs = Object.fromEntries(hosts.map((h) => [h, fernetEpoch(perHost[h]!)]));
  if (new Set(Object.values(epochs)).size > 1)
    differences.push(`primary Fernet key differs: ${hosts.map((h) => `${h} ${epochs[h] ?? 'none'}`).join(', ')}`);
  if (hosts.some((h) => epochs[h] === null))
    differences.push(`no Fernet keys on ${hosts.filter((h) => epochs[h] === null).join(', ')}`);
  return { consistent: differences.length === 0, epochs, differences };
}

export interface TreeChange {
  path: string;
  change: 'added' | 'removed' | 'content' | 'mode' | 'owner' | 'type';
  detail: string;
}

/**
 * What restoring `backup` onto a tree that currently holds `current` would change.
 * "added" = in the backup, not on the target; "removed" = on the target only (a restore keeps
 * such files: it reports them, it does not delete them).
 */
export function diffTrees(backup: TarEntry[], current: TarEntry[]): TreeChange[] {
  const cur = new Map(current.map((e) => [e.path.replace(/\/$/, ''), e]));
  const bak = new Map(backup.map((e) => [e.path.replace(/\/$/, ''), e]));
  const out: TreeChange[] = [];
  const oct = (m: number) => (m & 0o7777).toString(8).padStart(4, '0');
  for (const [p, b] of bak) {
    if (p === '' || p === '.') continue;
    const c = cur.get(p);
    if (!c) {
      out.push({ path: p, change: 'added', detail: `${b.type} ${oct(b.mode)} ${b.uid}:${b.gid}` });
      continue;
    }
    if (c.type !== b.type) {
      out.push({ path: p, change: 'type', detail: `${c.type} → ${b.type}` });
      continue;
    }
    if (b.type === 'file' && c.sha256 !== b.sha256)
      out.push({ path: p, change: 'content', detail: `${c.size} → ${b.size} bytes` });
    if (b.type === 'symlink' && c.linkname !== b.linkname)
      out.push({ path: p, change: 'content', detail: `→ ${c.linkname} becomes → ${b.linkname}` });
    if (b.type !== 'symlink' && (c.mode & 0o7777) !== (b.mode & 0o7777))
      out.push({ path: p, change: 'mode', detail: `${oct(c.mode)} → ${oct(b.mode)}` });
    if (c.uid !== b.uid || c.gid !== b.gid)
      out.push({ path: p, change: 'owner', detail: `${c.uid}:${c.gid} → ${b.uid}:${b.gid}` });
  }
  for (const [p, c] of cur)
    if (p !== '' && p !== '.' && !bak.has(p))
      out.push({ path: p, change: 'removed', detail: `${c.type} only on the target (kept)` });
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

/** Files whose content is a secret: a diff names them, never shows their lines. */
export function isSecretPath(path: string, extra: string[] = []): boolean {
  const p = path.replace(/^\.\//, '');
  return (
    /(^|\/)(passwords\.yml|admin-openrc\.sh|[^/]*openrc[^/]*|clouds\.yaml|.*\.(key|pem|p12))$/.test(p) ||
    /(^|\/)(fernet-keys|credential-keys)\//.test(p) ||
    extra.some((x) => p === x || p.startsWith(x.replace(/\/?$/, '/')))
  );
}

/** "<sha256>  <file>" lines for `sha256sum -c SHA256SUMS` in the artifact folder. */
export function partsSums(parts: Pick<ControlPlanePart, 'sha256' | 'file'>[]): string {
  return parts.map((p) => `${p.sha256}  ${p.file}\n`).join('');
}

/** The hand-restore recipe written next to a control-plane artifact. */
export function controlPlaneRecipe(m: Omit<ControlPlaneManifest, 'partsDigest' | 'restoreRecipe'>): string {
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
  const steps = m.parts.map((p) => {
    if (p.kind === 'kolla-config') {
      return `## ${p.name}\n\nFiles: ${p.entries?.filter((e) => e.type === 'file').length ?? '?'} (owners and modes are kept by tar).\n\n   # look first: list what is inside\n   ${dec(p.file)} | zstd -d | tar -t -v --numeric-owner\n   # then unpack (as root, keeps numeric owners and modes) into a fresh folder, compare, move into place\n   mkdir -p /root/kolla-restore && ${dec(p.file)} | zstd -d | tar -x --numeric-owner --same-owner -p -C /root/kolla-restore\n   diff -r /root/kolla-restore ${p.source}`;
    }
    if (p.kind === 'keystone-keys') {
      const [container, dir] = p.source.includes(':') ? p.source.split(':') : [null, p.source];
      const into = container
        ? `docker exec -i -u 0 ${container} tar -x --numeric-owner --same-owner -p -C ${dir}`
        : `tar -x --numeric-owner --same-owner -p -C ${dir}`;
      return `## ${p.name}\n\nFernet and credential keys (every Keystone host must hold the same set; restore the same set to all of them).\n\n   ${dec(p.file)} | zstd -d | ${into}\n   # keys are 0600, their folders 0700, owned by the keystone user (Kolla: 42425)`;
    }
    const ctl = p.source.includes(':') ? `docker exec -i ${p.source.split(':')[0]} rabbitmqctl` : 'rabbitmqctl';
    return `## ${p.name}\n\nDefinitions (vhosts, users, permissions, policies, exchanges, queues, bindings): ${Object.entries(
      p.summary ?? {},
    )
      .map(([k, v]) => `${v} ${k}`)
      .join(
        ', ',
      )}.\n\n   ${dec(p.file)} | zstd -d > /root/definitions.json\n   ${ctl} import_definitions /root/definitions.json   # (inside the container: copy the file in first)\n   shred -u /root/definitions.json   # it holds password hashes`;
  });
  return `# Restoring control-plane backup ${m.id} by hand (no osbackup needed)

Cloud \`${m.cloud}\`, taken ${m.startedAt} → ${m.completedAt}. Each part is one file:
OpenPGP (${m.encryption.cipher}) around zstd around a tar archive (or JSON for RabbitMQ).

To decrypt you need one of:
${keys.join('\n')}

First check every file: \`sha256sum -c SHA256SUMS\`.

${steps.join('\n\n')}
${m.keystone && !m.keystone.consistent ? `\n**Warning: the Keystone hosts held different keys when this was taken:** ${m.keystone.differences.join('; ')}. Pick one host's set and install it on all hosts.\n` : ''}`;
}
