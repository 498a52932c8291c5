// The manifest of an exported Glance image: clouds/<cloud>/image/<image id>/. Glance image data
// never changes once active, so the folder is named by the image id and a second export of
// the same bytes (same os_hash_value) is skipped.
import { MANIFEST_FORMAT, type EncryptionInfo } from '../manifest/manifest.js';
import { MARK, MARK_CLOUD, MARK_RUN, MARK_TAKEN } from './resources.js';

/** Attributes the recipe passes with their own flags, not as --property. */
const RECIPE_OWN_FLAGS = new Set([
  'name',
  'disk_format',
  'container_format',
  'visibility',
  'tags',
  'min_disk',
  'min_ram',
  'os_hidden',
]);

/** A word for a POSIX shell: bare when safe, else single-quoted. */
function shellWord(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export const IMAGE = 'image';

export interface ImagePart {
  file: string;
  /** Of the sealed file (what the repository holds). */
  sha256: string;
  bytes: number;
  /** Of the image bytes as Glance served them. */
  plainBytes: number;
  plainSha512: string;
}

export interface ImageManifest {
  formatVersion: typeof MANIFEST_FORMAT;
  id: string;
  cloud: string;
  component: typeof IMAGE;
  kind: 'image';
  parentId: null;
  startedAt: string;
  completedAt: string;
  workflowId: string;
  /** Glance's record of the image as exported: what a re-import needs (properties included). */
  image: {
    id: string;
    name: string | null;
    status: string;
    disk_format: string | null;
    container_format: string | null;
    visibility: string | null;
    tags: string[];
    size: number | null;
    os_hash_algo: string | null;
    os_hash_value: string | null;
    checksum: string | null;
    /** Every other property Glance returned (user properties, min_disk, min_ram, …). */
    properties: Record<string, unknown>;
  };
  /** Set when the image is a Nova instance snapshot taken by osbackup. */
  fromServer?: { id: string; name: string };
  parts: ImagePart[];
  compression: { format: 'zstd'; level: number };
  encryption: EncryptionInfo;
  tools: { zstd: string; gpg: string; osbackup: string };
  restoreRecipe: string;
}

/** Glance fields that describe the stored copy, not the image: never re-sent on import. */
export const GLANCE_READ_ONLY = [
  'id',
  'status',
  'created_at',
  'updated_at',
  'file',
  'schema',
  'self',
  'size',
  'virtual_size',
  'checksum',
  'os_hash_algo',
  'os_hash_value',
  'owner',
  'direct_url',
  'locations',
  'stores',
  'os_glance_failed_import',
  'os_glance_importing_to_stores',
  'protected',
];

export function imageFile(diskFormat: string | null): string {
  return `image.${(diskFormat ?? 'raw').replace(/[^a-z0-9]/gi, '')}.zst.gpg`;
}

export function imageRecipe(m: Omit<ImageManifest, 'restoreRecipe'>): string {
  const p = m.parts[0]!;
  const dec = m.encryption.passphrase
    ? `gpg --batch --pinentry-mode loopback --passphrase-file /path/to/backup-passphrase --decrypt ${p.file}`
    : `gpg --decrypt ${p.file}`;
  // the same properties the osbackup re-import sends, as the openstack CLI's flags (typed attributes have their own)
  const { body } = planImageCreate(m.image, { runId: '', from: '' });
  const q = (v: unknown) => shellWord(String(v));
  const flags = [
    `--disk-format ${q(body.disk_format)}`,
    `--container-format ${q(body.container_format)}`,
    ...(typeof body.visibility === 'string' ? [`--${body.visibility}`] : []),
    ...(typeof body.min_disk === 'number' ? [`--min-disk ${body.min_disk}`] : []),
    ...(typeof body.min_ram === 'number' ? [`--min-ram ${body.min_ram}`] : []),
    ...((body.tags as string[] | undefined) ?? []).map((t) => `--tag ${q(t)}`),
    ...Object.entries(body)
      .filter(
        ([k, v]) =>
          typeof v === 'string' && !RECIPE_OWN_FLAGS.has(k) && k !== MARK_RESTORE_RUN && k !== MARK_RESTORED_FROM,
      )
      .map(([k, v]) => `--property ${q(`${k}=${v as string}`)}`),
  ];
  const hidden =
    body.os_hidden === true
      ? `\n   It was hidden: hide it again with \`glance image-update --hidden True <new image id>\`.\n`
      : '';
  return `# Restore Glance image ${m.image.name ?? m.image.id} (${m.image.id}) of cloud ${m.cloud}

Exported ${m.completedAt} by workflow ${m.workflowId}. ${p.plainBytes} bytes, ${m.image.disk_format}/${m.image.container_format}.

1. Check the file, then decrypt and decompress it with stock tools:

   sha256sum ${p.file}            # expect ${p.sha256}
   ${dec} | zstd -d > image.${m.image.disk_format ?? 'raw'}
   sha512sum image.${m.image.disk_format ?? 'raw'}   # expect ${p.plainSha512} (Glance's os_hash_value)

2. Re-import it into Glance with its properties:

   openstack image create ${flags.join(' \\\n     ')} \\
     --file image.${m.image.disk_format ?? 'raw'} ${q(body.name)}

   The new image's os_hash_value (\`openstack image show -c os_hash_value <new image id>\`) must equal ${p.plainSha512}.
${hidden}`;
}

export function newImageManifest(
  m: Omit<ImageManifest, 'formatVersion' | 'component' | 'kind' | 'parentId' | 'restoreRecipe'>,
): ImageManifest {
  const base: Omit<ImageManifest, 'restoreRecipe'> = {
    formatVersion: MANIFEST_FORMAT,
    component: IMAGE,
    kind: 'image',
    parentId: null,
    ...m,
  };
  return { ...base, restoreRecipe: imageRecipe(base) };
}

// ---- Re-importing an exported image ----

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
