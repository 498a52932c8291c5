// Cloud-side retention, run by rotate: osbackup's own snapshots, Cinder backups and instance
// images of this cloud (planCloudRetention), and the repository's image exports whose image is
// gone from Glance for longer than configured (planImageExportRetention). Two phases like the
// storage retention: mark writes a journal (clouds/<cloud>/.cloud-retention/<run>.json in the
// repository), purge re-reads each resource and deletes it only if it still carries this
// cloud's mark — never anything else. The journal goes last, so a crash is finished next time.
import { Context } from '@temporalio/activity';
import type { Env } from '../deps.js';
import { cinder, glance } from './api.js';
import type { OpenStackSession } from './session.js';
import type { OpenstackCloudConfig } from '../../config/openstack-schema.js';
import {
  isOurs,
  MARK_CLOUD,
  planCloudRetention,
  planImageExportRetention,
  type CloudResource,
  type CloudRetentionPlan,
  type ImageExportRetention,
} from '../../core/openstack/resources.js';
import { artifactDir, MANIFEST_FILE } from '../../core/manifest/manifest.js';
import { IMAGE } from '../../core/openstack/image.js';
import { scanTargetManifests } from '../storage/target.js';

export const cloudJournalPrefix = (cloud: string) => `clouds/${cloud}/.cloud-retention/`;
const goneKey = (cloud: string) => `${cloudJournalPrefix(cloud)}images-gone.json`;

export interface CloudRetentionJournal {
  formatVersion: 1;
  runId: string;
  cloud: string;
  markedAt: string;
  remove: CloudRetentionPlan['remove'];
  exports: ImageExportRetention['remove'];
}

export interface CloudRetentionView {
  cloud: string;
  plan: CloudRetentionPlan;
  exports: ImageExportRetention;
}

/** Cinder/Glance times are UTC without a zone. */
const utc = (t: string | undefined | null) =>
  !t ? new Date(0).toISOString() : /Z$|[+-]\d\d:?\d\d$/.test(t) ? t : `${t}Z`;

export async function cloudResources(s: OpenStackSession, cloud: string): Promise<CloudResource[]> {
  const [snaps, backups, images] = await Promise.all([
    cinder.listSnapshots(s, { allProjects: true, metadata: { [MARK_CLOUD]: cloud } }),
    cinder.listBackups(s, { allProjects: true }),
    glance.listImages(s, { properties: { [MARK_CLOUD]: cloud } }),
  ]);
  return [
    ...snaps.map(
      (x): CloudResource => ({
        kind: 'volume-snapshot',
        id: x.id,
        source: x.volume_id,
        createdAt: utc(x.created_at),
        metadata: x.metadata,
      }),
    ),
    ...backups.map(
      (x): CloudResource => ({
        kind: 'volume-backup',
        id: x.id,
        source: x.volume_id,
        createdAt: utc(x.created_at),
        metadata: x.metadata,
      }),
    ),
    ...images.map((x): CloudResource => {
      const props = Object.fromEntries(
        Object.entries(x).filter((e): e is [string, string] => typeof e[1] === 'string'),
      );
      return {
        kind: 'image',
        id: x.id,
        source: props.instance_uuid ?? x.name ?? x.id,
        createdAt: utc(x.created_at),
        metadata: props,
      };
    }),
  ];
}

export async function planCloudSide(
  env: Env,
  s: OpenStackSession,
  cfg: OpenstackCloudConfig,
  cloud: string,
  now: string,
): Promise<CloudRetentionView> {
  const r = cfg.retention;
  const plan = planCloudRetention(
    await cloudResources(s, cloud),
    cloud,
    { keepLast: r.keepLast, keepWithinMs: r.keepDays * 86_400_000 },
    new Date(now),
  );
  const exportIds = (await scanTargetManifests(env.primary, cloud))
    .map((x) => x.manifest)
    .filter((m) => m.component === IMAGE)
    .map((m) => m.id);
  const inGlance = new Set<string>();
  for (const id of exportIds) if ((await glance.getImage(s, id)) !== null) inGlance.add(id);
  const gone = JSON.parse((await env.primary.readText(goneKey(cloud))) ?? '{}') as Record<string, string>;
  const exports = planImageExportRetention(exportIds, inGlance, gone, r.imageExportDaysAfterDeleted, new Date(now));
  return { cloud, plan, exports };
}

export async function markCloudSide(
  env: Env,
  s: OpenStackSession,
  cfg: OpenstackCloudConfig,
  input: { cloud: string; runId: string; now: string },
): Promise<{ remove: number; keep: number; foreign: number }> {
  const key = `${cloudJournalPrefix(input.cloud)}${input.runId}.json`;
  const existing = await env.primary.readText(key);
  if (existing) {
    const j = JSON.parse(existing) as CloudRetentionJournal; // a retried mark: the first plan stands
    return { remove: j.remove.length + j.exports.length, keep: 0, foreign: 0 };
  }
  const v = await planCloudSide(env, s, cfg, input.cloud, input.now);
  await env.primary.putText(goneKey(input.cloud), JSON.stringify(v.exports.goneSince, null, 2) + '\n');
  const journal: CloudRetentionJournal = {
    formatVersion: 1,
    runId: input.runId,
    cloud: input.cloud,
    markedAt: input.now,
    remove: v.plan.remove,
    exports: v.exports.remove,
  };
  if (journal.remove.length || journal.exports.length)
    await env.primary.putText(key, JSON.stringify(journal, null, 2) + '\n');
  return {
    remove: journal.remove.length + journal.exports.length,
    keep: v.plan.keep.length + v.exports.keep.length,
    foreign: v.plan.foreign,
  };
}

export async function pendingCloudJournals(env: Env, cloud: string): Promise<string[]> {
  return (await env.primary.list(cloudJournalPrefix(cloud)))
    .map((o) => o.key.slice(cloudJournalPrefix(cloud).length))
    .filter((k) => k.endsWith('.json') && k !== 'images-gone.json')
    .map((k) => k.slice(0, -'.json'.length));
}

export interface CloudPurgeResult {
  deleted: string[];
  /** Left alone, with why: no longer carrying this cloud's mark, or refused by the cloud (e.g. a volume made from the snapshot). */
  refused: { id: string; reason: string }[];
}

async function currentMetadata(
  s: OpenStackSession,
  kind: CloudResource['kind'],
  id: string,
): Promise<Record<string, string> | undefined | null> {
  if (kind === 'volume-snapshot') return (await cinder.getSnapshot(s, id))?.metadata ?? null;
  if (kind === 'volume-backup') return (await cinder.getBackup(s, id))?.metadata ?? null;
  const img = await glance.getImage(s, id);
  return img
    ? Object.fromEntries(Object.entries(img).filter((e): e is [string, string] => typeof e[1] === 'string'))
    : null;
}

export async function purgeCloudSide(
  env: Env,
  s: OpenStackSession,
  input: { cloud: string; runId: string },
  onExportRemoved: (id: string) => Promise<void>,
): Promise<CloudPurgeResult> {
  const key = `${cloudJournalPrefix(input.cloud)}${input.runId}.json`;
  const text = await env.primary.readText(key);
  if (!text) return { deleted: [], refused: [] };
  const j = JSON.parse(text) as CloudRetentionJournal;
  const out: CloudPurgeResult = { deleted: [], refused: [] };
  for (const r of j.remove) {
    const md = await currentMetadata(s, r.kind, r.id);
    if (md === null) continue; // already gone (an earlier attempt, or by hand)
    // the mark is read again now: whatever lost it since the plan (or never had it) is not osbackup's to delete
    if (!isOurs(md, input.cloud)) {
      out.refused.push({
        id: r.id,
        reason: `${r.kind} ${r.id} no longer carries osbackup's mark for cloud ${input.cloud}: left alone`,
      });
      continue;
    }
    try {
      if (r.kind === 'volume-snapshot') await cinder.deleteSnapshot(s, r.id);
      else if (r.kind === 'volume-backup') await cinder.deleteBackup(s, r.id);
      else await glance.deleteImage(s, r.id);
      out.deleted.push(r.id);
    } catch (e) {
      out.refused.push({ id: r.id, reason: `${r.kind} ${r.id}: ${(e as Error).message}` });
    }
    Context.current().heartbeat({ deleted: out.deleted.length });
  }
  for (const x of j.exports) {
    const dir = artifactDir(input.cloud, IMAGE, x.id);
    const files = await env.primary.list(`${dir}/`);
    // manifest first: from this instant the folder is garbage, never a half export
    await env.primary.deleteKeys(files.filter((f) => f.key === `${dir}/${MANIFEST_FILE}`).map((f) => f.key));
    await env.primary.deleteKeys(files.filter((f) => f.key !== `${dir}/${MANIFEST_FILE}`).map((f) => f.key));
    if (files.length) out.deleted.push(`image export ${x.id}`);
    await onExportRemoved(x.id);
  }
  await env.primary.deleteKeys([key]);
  return out;
}
