// The restore side of cloud resources, as pure decisions: which snapshot a restore uses and which
// flavor a restored server gets (a re-imported image's request and the restore marks live with
// the image manifest). Used by workflows and activities.
import { isOurs, MARK, MARK_CLOUD, MARK_RUN, MARK_TAKEN } from './resources.js';

/** A snapshot as the picker sees it (Cinder's fields that matter). */
export interface SnapshotCandidate {
  id: string;
  name: string | null;
  volumeId: string;
  status: string;
  createdAt: string;
  sizeGiB: number | null;
  metadata: Record<string, string>;
}

export type SnapshotRequest = { snapshot: string } | { volumeId: string; at?: string };

export type SnapshotChoice = { ok: true; snapshot: SnapshotCandidate } | { ok: false; reason: string; fix: string };

/** When a snapshot was taken: osbackup's mark (the run's start) if present, else Cinder's created_at (UTC, often without a zone). */
export function takenAt(s: SnapshotCandidate): number {
  const t = s.metadata[MARK_TAKEN] ?? s.createdAt;
  return Date.parse(/[zZ]$|[+-]\d\d:?\d\d$/.test(t) ? t : `${t}Z`);
}

/**
 * The snapshot a restore starts from. `--snapshot` names one by id or by name (a name that
 * several snapshots carry is refused, listing them); `--volume [--at]` picks the newest of
 * osbackup's available snapshots of that volume taken at or before `at` (default: the newest).
 */
export function chooseSnapshot(
  candidates: readonly SnapshotCandidate[],
  req: SnapshotRequest,
  cloud: string,
): SnapshotChoice {
  if ('snapshot' in req) {
    const byId = candidates.find((c) => c.id === req.snapshot);
    const hits = byId ? [byId] : candidates.filter((c) => c.name === req.snapshot);
    if (hits.length === 0)
      return {
        ok: false,
        reason: `no snapshot with id or name "${req.snapshot}"`,
        fix: 'list them with `openstack volume snapshot list --all-projects`',
      };
    if (hits.length > 1)
      return {
        ok: false,
        reason: `${hits.length} snapshots are named "${req.snapshot}" (${hits.map((h) => h.id).join(', ')})`,
        fix: 'name the snapshot by its id',
      };
    const s = hits[0]!;
    if (s.status !== 'available')
      return {
        ok: false,
        reason: `snapshot ${s.id} is ${s.status}, not available`,
        fix: 'wait for it to become available, or choose another',
      };
    return { ok: true, snapshot: s };
  }
  const at = req.at === undefined ? Infinity : Date.parse(req.at);
  if (Number.isNaN(at))
    return {
      ok: false,
      reason: `"${req.at}" is not a date`,
      fix: 'give --at as an ISO date (2026-11-30 or 2026-11-30T06:00:00Z)',
    };
  const ours = candidates.filter((c) => c.volumeId === req.volumeId && isOurs(c.metadata, cloud));
  const usable = ours.filter((c) => c.status === 'available' && takenAt(c) <= at);
  if (usable.length === 0) {
    const seen = ours.map((c) => `${c.id} ${new Date(takenAt(c)).toISOString()} ${c.status}`).join('; ');
    return {
      ok: false,
      reason: `no available osbackup snapshot of volume ${req.volumeId}${req.at ? ` taken at or before ${req.at}` : ''} (osbackup's snapshots of it: ${seen || 'none'})`,
      fix: ours.length
        ? 'choose a later --at, or name a snapshot with --snapshot'
        : 'take one with `osbackup backup volumes`, or name an operator snapshot with --snapshot',
    };
  }
  const newest = [...usable].sort((a, b) => takenAt(b) - takenAt(a) || b.id.localeCompare(a.id))[0]!;
  return { ok: true, snapshot: newest };
}

export interface FlavorInfo {
  id: string;
  name: string;
  vcpus: number;
  ram: number;
  disk: number;
}

export type FlavorChoice = { ok: true; flavor: FlavorInfo } | { ok: false; reason: string; fix: string };

/**
 * The flavor of a restored server: the one named (id or name), else the smallest that meets the
 * image's min_ram/min_disk and holds its data (fewest RAM, then disk, then vCPUs; ties by name).
 * A named flavor too small for the image is refused here, before Nova would refuse it.
 */
export function chooseFlavor(
  flavors: readonly FlavorInfo[],
  want: string | undefined,
  image: { minRamMiB: number; minDiskGiB: number; sizeBytes: number | null },
): FlavorChoice {
  const needDisk = Math.max(image.minDiskGiB, image.sizeBytes ? Math.ceil(image.sizeBytes / 2 ** 30) : 0);
  const fits = (f: FlavorInfo) => f.ram >= image.minRamMiB && (f.disk === 0 || f.disk >= needDisk);
  if (want !== undefined) {
    const f = flavors.find((x) => x.id === want) ?? flavors.find((x) => x.name === want);
    if (!f)
      return {
        ok: false,
        reason: `no flavor "${want}" (flavors: ${flavors.map((x) => x.name).join(', ') || 'none'})`,
        fix: 'name one of those with --flavor',
      };
    if (!fits(f))
      return {
        ok: false,
        reason: `flavor ${f.name} (${f.ram} MiB, ${f.disk} GiB) is smaller than the image needs (${image.minRamMiB} MiB RAM, ${needDisk} GiB disk)`,
        fix: 'choose a larger --flavor',
      };
    return { ok: true, flavor: f };
  }
  const best = flavors
    .filter(fits)
    .sort((a, b) => a.ram - b.ram || a.disk - b.disk || a.vcpus - b.vcpus || a.name.localeCompare(b.name))[0];
  if (!best)
    return {
      ok: false,
      reason: `no flavor meets the image's needs (${image.minRamMiB} MiB RAM, ${needDisk} GiB disk)`,
      fix: 'create one, or name one with --flavor',
    };
  return { ok: true, flavor: best };
}

/** Nova's `networks` of a restored server: "auto" (Nova's default at 2.37+), "none", or ports on these network ids. */
export function serverNetworks(networks: string[] | undefined): 'auto' | 'none' | { uuid: string }[] {
  if (!networks || networks.length === 0 || (networks.length === 1 && networks[0] === 'auto')) return 'auto';
  if (networks.length === 1 && networks[0] === 'none') return 'none';
  return networks.map((uuid) => ({ uuid }));
}
