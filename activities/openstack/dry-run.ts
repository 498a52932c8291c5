// `osbackup backup volumes|images|instances --dry-run`: the selection a run would make, each
// resource with what would happen to it and why, read from the same listings the run uses.
import type { Env } from '../deps.js';
import { nova } from './api.js';
import { listImages } from './images.js';
import { listVolumes } from './volumes.js';
import type { OpenStackSession } from './session.js';
import type { OpenstackCloudConfig } from '../../config/openstack-schema.js';
import { artifactDir } from '../../core/manifest/manifest.js';
import { IMAGE, type ImageManifest } from '../../core/openstack/image.js';

export type DryRunKind = 'volumes' | 'images' | 'instances';

export interface DryRunItem {
  id: string;
  name: string | null;
  action: 'snapshot' | 'snapshot + cinder backup' | 'export' | 'skip';
  reason: string;
}

export interface DryRunResult {
  cloud: string;
  kind: DryRunKind;
  /** The selection as configured, in words. */
  selection: string;
  concurrency: number;
  items: DryRunItem[];
}

/** Nova states a snapshot is taken in; others (BUILD, ERROR, …) are listed as skipped. */
export const SNAPSHOT_STATES = ['ACTIVE', 'SHUTOFF', 'PAUSED', 'SUSPENDED'];

const kv = (m: Record<string, string> | undefined) =>
  Object.entries(m ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');

export async function dryRun(
  env: Env,
  s: OpenStackSession,
  cfg: OpenstackCloudConfig,
  input: { cloud: string; kind: DryRunKind },
): Promise<DryRunResult> {
  if (input.kind === 'volumes') {
    const v = cfg.volumes;
    const selection = [
      `status in [${v.statuses.join(', ')}]`,
      v.projectId ? `project ${v.projectId}` : 'every project',
      v.metadata ? `metadata ${kv(v.metadata)}` : '',
    ]
      .filter(Boolean)
      .join(', ');
    const items = (await listVolumes(s, cfg)).map(
      (x): DryRunItem => ({
        id: x.id,
        name: x.name,
        action: v.cinderBackup ? 'snapshot + cinder backup' : 'snapshot',
        reason: `${x.status}${x.attached ? ' (attached: snapshot with force)' : ''}, ${x.sizeGiB} GiB${v.metadata ? `, has ${kv(v.metadata)}` : ''}`,
      }),
    );
    return { cloud: input.cloud, kind: input.kind, selection, concurrency: v.concurrency, items };
  }
  if (input.kind === 'images') {
    const f = cfg.images;
    const selection = [
      'active',
      f.visibility ? `visibility ${f.visibility}` : '',
      f.tag ? `tag ${f.tag}` : '',
      f.name ? `name ${f.name}` : '',
    ]
      .filter(Boolean)
      .join(', ');
    const items: DryRunItem[] = [];
    for (const img of await listImages(s, cfg)) {
      const m = (await env.repo.readManifest(artifactDir(input.cloud, IMAGE, img.id))) as ImageManifest | undefined;
      if (!m)
        items.push({
          id: img.id,
          name: img.name,
          action: 'export',
          reason: `not in the repository (${img.size ?? '?'} bytes)`,
        });
      else if (img.osHashValue && m.image.os_hash_value === img.osHashValue)
        items.push({
          id: img.id,
          name: img.name,
          action: 'skip',
          reason: `already exported ${m.completedAt} with the same os_hash_value`,
        });
      else
        items.push({
          id: img.id,
          name: img.name,
          action: 'skip',
          reason: `exported before with another os_hash_value: the run reports it (ChecksumMismatch), nothing is overwritten`,
        });
    }
    return { cloud: input.cloud, kind: input.kind, selection, concurrency: f.concurrency, items };
  }
  const n = cfg.instances;
  const selection = `${n.name ? `name matching ${n.name}` : 'every server'}, state in [${SNAPSHOT_STATES.join(', ')}]`;
  const items = (await nova.listServers(s, { allProjects: true, name: n.name })).map(
    (x): DryRunItem =>
      SNAPSHOT_STATES.includes(x.status)
        ? {
            id: x.id,
            name: x.name,
            action: 'snapshot',
            reason: `${x.status}${n.name ? `, name matches ${n.name}` : ''}`,
          }
        : { id: x.id, name: x.name, action: 'skip', reason: `${x.status}: not a state Nova snapshots in` },
  );
  return { cloud: input.cloud, kind: input.kind, selection, concurrency: n.concurrency, items };
}
