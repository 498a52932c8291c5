// The restore side of cloud resources, as pure decisions: which snapshot a restore uses, what a
// re-imported image is created with, which flavor a restored server gets, and the marks that
// let a retried activity find what its run already created. Used by workflows and activities.
import { GLANCE_READ_ONLY, type ImageManifest } from './image.js';
import { isOurs, MARK, MARK_CLOUD, MARK_RUN, MARK_TAKEN } from './openstack.js';

/**
 * Marks on what a restore creates. Deliberately NOT `osbackup=true`: a restored volume, image or
 * server is the operator's live resource, and cloud-side retention must never count it as one
 * of osbackup's copies.
 */
export const MARK_RESTORE_RUN = 'osbackup_restore_run';
export const MARK_RESTORED_FROM = 'osbackup_restored_from';

export function restoreMarks(runId: string, from: string): Record<string, string> {
  return { [MARK_RESTORE_RUN]: runId, [MARK_RESTORED_FROM]: from };
}

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

/** Glance properties a create request may not carry (reserved prefixes), or that describe osbackup's copy, not the image. */
const NOT_RESTORED_PREFIXES = ['os_glance_'];
const OUR_MARKS = new Set([MARK, MARK_RUN, MARK_CLOUD, MARK_TAKEN, MARK_RESTORE_RUN, MARK_RESTORED_FROM]);
/** Core attributes Glance types strictly (everything else it stores is a string). */
const INTEGER_ATTRS = new Set(['min_disk', 'min_ram']);
const BOOLEAN_ATTRS = new Set(['os_hidden', 'protected']);

export interface ImageCreatePlan {
  /** The body of POST /v2/images. */
  body: Record<string, unknown>;
  /** Recorded properties left out, with why (shown in the result, never silently dropped). */
  skipped: { key: string; reason: string }[];
}

/**
 * What a re-imported image is created with: the recorded disk/container format, visibility,
 * tags, min_disk/min_ram, os_hidden and custom properties; never what Glance owns (ids, hashes,
 * sizes, locations, os_glance_*), nor osbackup's marks of the exported copy (a re-imported
 * instance snapshot must not look like one of osbackup's cloud-side copies to retention).
 * `protected` is not set: the image must stay deletable until its hash is checked.
 */
export function planImageCreate(
  image: ImageManifest['image'],
  o: { name?: string; runId: string; from: string; visibility?: string },
): ImageCreatePlan {
  const skipped: ImageCreatePlan['skipped'] = [];
  const body: Record<string, unknown> = {
    name: o.name ?? image.name ?? image.id,
    disk_format: image.disk_format ?? 'raw',
    container_format: image.container_format ?? 'bare',
  };
  const visibility = o.visibility ?? image.visibility;
  if (visibility) body.visibility = visibility;
  if (image.tags.length) body.tags = [...image.tags];
  const readOnly = new Set<string>(GLANCE_READ_ONLY);
  for (const [key, value] of Object.entries(image.properties).sort(([a], [b]) => a.localeCompare(b))) {
    if (key === 'protected')
      skipped.push({ key, reason: 'set it after checking the image (`openstack image set --protected`)' });
    else if (readOnly.has(key) || NOT_RESTORED_PREFIXES.some((p) => key.startsWith(p)))
      skipped.push({ key, reason: 'owned by Glance' });
    else if (OUR_MARKS.has(key)) skipped.push({ key, reason: "osbackup's mark of the exported copy" });
    else if (value === null || value === undefined) skipped.push({ key, reason: 'no value' });
    else if (INTEGER_ATTRS.has(key)) {
      if (typeof value === 'number' && Number.isInteger(value)) body[key] = value;
      else skipped.push({ key, reason: `not an integer (${JSON.stringify(value)})` });
    } else if (BOOLEAN_ATTRS.has(key)) {
      if (typeof value === 'boolean') body[key] = value;
      else skipped.push({ key, reason: `not a boolean (${JSON.stringify(value)})` });
    } else if (typeof value === 'string') body[key] = value;
    else skipped.push({ key, reason: `not a string (Glance stores only string properties): ${JSON.stringify(value)}` });
  }
  Object.assign(body, restoreMarks(o.runId, o.from));
  return { body, skipped };
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
