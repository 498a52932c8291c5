// Retention on one target, in two phases so a crash anywhere loses nothing needed:
//   plan   — the pure planner over the target's own manifests (core/retention/plan.ts)
//   mark   — a journal (clouds/<cloud>/.retention/<run>.json) records what will go and what must stay
//   purge  — re-scans the target, re-checks that every retained restore point keeps a whole
//            chain without the marked artifacts, then deletes each marked folder manifest
//            first (it stops being a backup at once), then its files; the journal goes last.
// A purge interrupted midway is finished by the next attempt or the next rotate run: the
// journal is still there, and deleting what is already gone is not an error.
import { Context } from '@temporalio/activity';
import { artifactDir, MANIFEST_FILE } from '../../core/manifest/manifest.js';
import { isBinlogManifest, isDatabaseManifest, type AnyManifest } from '../../core/manifest/any-manifest.js';
import { isDumpManifest } from '../../core/dump/dump.js';
import {
  binlogRetentionArtifact,
  dumpRetentionArtifact,
  planRetention,
  recheck,
  retentionArtifactFromManifest,
  type RetentionArtifact,
  type RetentionPlan,
} from '../../core/retention/plan.js';
import type { ControlPlaneManifest } from '../../core/control-plane/control-plane.js';
import { IMAGE, type ImageManifest } from '../../core/openstack/image.js';
import type { Env } from '../deps.js';
import { fatal, FailureType } from '../errors.js';
import { scanTargetManifests, type TargetStore } from '../storage/target.js';

export interface RetentionJournal {
  formatVersion: 1;
  runId: string;
  cloud: string;
  target: string;
  markedAt: string;
  remove: { id: string; component: string; reason: string }[];
  retained: string[];
  /** Every artifact the plan saw: anything newer must survive the purge too. */
  known: string[];
}

export const journalPrefix = (cloud: string) => `clouds/${cloud}/.retention/`;

/** A control-plane backup as the planner sees it: its kind is the most important part it holds. */
function controlPlaneArtifact(m: ControlPlaneManifest): RetentionArtifact {
  const kinds = new Set(m.parts.map((p) => p.kind));
  const kind = kinds.has('kolla-config') ? 'config' : kinds.has('keystone-keys') ? 'fernet' : 'rabbitmq';
  return { id: m.id, kind, takenAt: m.completedAt };
}

export function retentionArtifact(m: Exclude<AnyManifest, ImageManifest>): RetentionArtifact {
  if (isBinlogManifest(m)) return binlogRetentionArtifact(m);
  if (isDumpManifest(m)) return dumpRetentionArtifact(m);
  return isDatabaseManifest(m) ? retentionArtifactFromManifest(m) : controlPlaneArtifact(m);
}

/** Image exports are kept per image, not by backup tiers: the tier planner never sees them (their own retention is still to come). */
const byTiers = (m: AnyManifest): m is Exclude<AnyManifest, ImageManifest> => m.component !== IMAGE;

export async function planTarget(
  t: TargetStore,
  cloud: string,
  now: string,
): Promise<{ plan: RetentionPlan; components: Record<string, string> }> {
  const manifests = (await scanTargetManifests(t, cloud)).map((x) => x.manifest).filter(byTiers);
  const plan = planRetention({ artifacts: manifests.map(retentionArtifact), policy: t.retention, now: new Date(now) });
  return { plan, components: Object.fromEntries(manifests.map((m) => [m.id, m.component])) };
}

export async function markTarget(
  env: Env,
  input: { cloud: string; target: string; runId: string; now: string },
): Promise<RetentionJournal> {
  const t = await env.target(input.target);
  const key = `${journalPrefix(input.cloud)}${input.runId}.json`;
  const existing = await t.readText(key);
  if (existing) return JSON.parse(existing) as RetentionJournal; // a retried mark: the first plan stands
  const { plan, components } = await planTarget(t, input.cloud, input.now);
  const known = Object.keys(components);
  const journal: RetentionJournal = {
    formatVersion: 1,
    runId: input.runId,
    cloud: input.cloud,
    target: t.name,
    markedAt: input.now,
    remove: plan.remove.map((r) => ({ id: r.id, component: components[r.id]!, reason: r.reason })),
    retained: plan.retained,
    known,
  };
  if (journal.remove.length) await t.putText(key, JSON.stringify(journal, null, 2) + '\n');
  return journal;
}

/** Journals left by runs that died between mark and purge. */
export async function pendingJournals(env: Env, cloud: string, target: string): Promise<string[]> {
  const t = await env.target(target);
  return (await t.list(journalPrefix(cloud)))
    .map((o) => o.key)
    .filter((k) => k.endsWith('.json'))
    .map((k) => k.slice(journalPrefix(cloud).length, -'.json'.length));
}

export async function purgeTarget(
  env: Env,
  input: { cloud: string; target: string; runId: string },
  onPurged: (id: string, component: string) => Promise<void>,
): Promise<{ purged: string[]; bytes: number }> {
  const t = await env.target(input.target);
  const key = `${journalPrefix(input.cloud)}${input.runId}.json`;
  const text = await t.readText(key);
  if (!text) return { purged: [], bytes: 0 }; // finished by an earlier attempt
  const journal = JSON.parse(text) as RetentionJournal;
  const marked = new Set(journal.remove.map((r) => r.id));
  const present = (await scanTargetManifests(t, input.cloud)).map((x) => x.manifest).filter(byTiers);
  const remaining = present.filter((m) => !marked.has(m.id)).map(retentionArtifact);
  // a backup taken since the mark (e.g. an incremental) must stay whole as well
  const known = new Set(journal.known);
  const arrived = present.filter((m) => !known.has(m.id)).map((m) => m.id);
  const breaks = recheck([...journal.retained, ...arrived], remaining);
  if (breaks.length) {
    await t.deleteKeys([key]); // this plan is stale: the next run plans afresh
    throw fatal(
      FailureType.RetentionUnsafe,
      `retention on target "${t.name}" stopped before deleting anything: ${breaks.map((b) => b.reason).join('; ')}`,
      'something changed the target since the plan (an artifact deleted or damaged by hand?); run `osbackup verify` and `osbackup retention plan` again',
    );
  }
  const purged: string[] = [];
  let bytes = 0;
  for (const r of journal.remove) {
    const dir = artifactDir(input.cloud, r.component, r.id);
    const files = await t.list(`${dir}/`);
    // manifest first: from this instant the folder is garbage, never a half backup
    await t.deleteKeys(files.filter((f) => f.key === `${dir}/${MANIFEST_FILE}`).map((f) => f.key));
    await t.deleteKeys(files.filter((f) => f.key !== `${dir}/${MANIFEST_FILE}`).map((f) => f.key));
    bytes += files.reduce((n, f) => n + f.bytes, 0);
    purged.push(r.id);
    await onPurged(r.id, r.component);
    Context.current().heartbeat({ purged: purged.length, of: journal.remove.length });
  }
  await t.deleteKeys([key]);
  return { purged, bytes };
}
