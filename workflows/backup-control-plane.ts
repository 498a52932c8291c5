// The control plane as one unit, the runbook: Kolla's deploy tree, the keys of every Keystone
// host (compared: tokens break across nodes when they differ), the RabbitMQ definitions; then
// publish them together with one manifest. Diverged keys do not fail the backup — the backup
// is the evidence — but they are reported loudly: in the result, the progress and the Phase.
import { workflowInfo, upsertSearchAttributes, CancellationScope } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import {
  compareKeySets,
  type ControlPlaneManifest,
  type ControlPlanePart,
  type KeySetReport,
} from '../core/control-plane/control-plane.js';
import { controlPlaneBackupId } from '../core/ids.js';
import { MANIFEST_FORMAT, RECIPE_FILE } from '../core/manifest/manifest.js';
import { shortCall, shortActivities, dataBoundActivities, dataBoundCall } from './options.js';
import { Steps } from './progress.js';
import { CLOUD, COMPONENT, TIER } from './search-attributes.js';

const short = shortActivities(shortCall);
const data = dataBoundActivities(dataBoundCall);

export interface BackupControlPlaneInput {
  cloud: string;
  tier?: string;
  toolVersion?: string;
  /** Parts to take (default: every part the cloud's config describes). */
  parts?: ('kolla-config' | 'keystone-keys' | 'rabbitmq-definitions')[];
  /** A safety copy of a target folder before a restore overwrites it (instead of the configured tree). */
  preRestoreOf?: { host: string; dir: string };
  /** Which configured parts exist (the client reads the config; workflows read nothing). */
  configured: { kolla: boolean; keystoneHosts: string[]; rabbitmq: boolean };
}

export interface BackupControlPlaneResult {
  backupId: string;
  path: string;
  parts: { kind: string; host: string; files: number | null; bytes: number; sha256: string }[];
  missing: string[];
  keystone: KeySetReport | null;
  warnings: string[];
}

export async function backupControlPlaneWorkflow(input: BackupControlPlaneInput): Promise<BackupControlPlaneResult> {
  const info = workflowInfo();
  const started = new Date(info.startTime);
  const { cloud, configured } = input;
  const reason = input.preRestoreOf ? 'pre-restore' : 'backup';
  upsertSearchAttributes([
    { key: CLOUD, value: cloud },
    { key: COMPONENT, value: 'control-plane' },
    { key: TIER, value: input.tier ?? (reason === 'pre-restore' ? 'restore' : 'manual') },
  ]);
  const want = new Set(input.parts ?? ['kolla-config', 'keystone-keys', 'rabbitmq-definitions']);
  const takeKolla = !!input.preRestoreOf || (want.has('kolla-config') && configured.kolla);
  const keystoneHosts = input.preRestoreOf ? [] : want.has('keystone-keys') ? configured.keystoneHosts : [];
  const takeRabbit = !input.preRestoreOf && want.has('rabbitmq-definitions') && configured.rabbitmq;
  const steps = new Steps([
    ...(takeKolla ? ['kolla config'] : []),
    ...(keystoneHosts.length ? ['keystone keys', 'compare keys'] : []),
    ...(takeRabbit ? ['rabbitmq definitions'] : []),
    'publish',
  ]);
  const backupId = controlPlaneBackupId(started, reason);
  const { stagingDir } = await short.repositoryCreateStaging({ id: backupId });

  try {
    const parts: ControlPlanePart[] = [];
    let missing: string[] = [];
    if (takeKolla) {
      const k = await steps.run(
        'kolla config',
        () => short.controlPlaneBackupKolla({ cloud, stagingDir, from: input.preRestoreOf }),
        (p) =>
          `${p.entries?.filter((e) => e.type === 'file').length} files${p.missing.length ? `; not present: ${p.missing.join(', ')}` : ''}`,
      );
      const { missing: m, ...part } = k;
      missing = m;
      parts.push(part);
    }
    let keystone: KeySetReport | null = null;
    if (keystoneHosts.length) {
      const keyParts = await steps.run(
        'keystone keys',
        () => Promise.all(keystoneHosts.map((host) => short.controlPlaneBackupKeys({ cloud, host, stagingDir }))),
        (ps) => ps.map((p) => `${p.host}: ${p.entries?.filter((e) => e.type === 'file').length} keys`).join(', '),
      );
      parts.push(...keyParts);
      keystone = await steps.run(
        'compare keys',
        async () => compareKeySets(Object.fromEntries(keyParts.map((p) => [p.host, p.entries ?? []]))),
        (r) =>
          r.consistent
            ? `identical on ${keystoneHosts.join(', ')}; primary Fernet key ${Object.values(r.epochs)[0]}`
            : `KEYS DIFFER: ${r.differences.join('; ')}`,
      );
    }
    if (takeRabbit)
      parts.push(
        await steps.run(
          'rabbitmq definitions',
          () => short.controlPlaneBackupRabbitmq({ cloud, stagingDir }),
          (p) =>
            Object.entries(p.summary ?? {})
              .map(([k, v]) => `${v} ${k}`)
              .join(', '),
        ),
      );

    const crypto = await short.cryptoDescribe({ cloud });
    const base = {
      formatVersion: MANIFEST_FORMAT as typeof MANIFEST_FORMAT,
      id: backupId,
      cloud,
      component: 'control-plane' as const,
      kind: 'control-plane' as const,
      parentId: null,
      startedAt: started.toISOString(),
      completedAt: new Date().toISOString(),
      workflowId: info.workflowId,
      reason: reason as ControlPlaneManifest['reason'],
      parts,
      keystone,
      compression: { format: 'zstd' as const, level: crypto.compressionLevel },
      encryption: crypto.encryption,
      tools: { ...crypto.tools, osbackup: input.toolVersion ?? 'unknown' },
    };
    const published = await steps.run('publish', () =>
      short.repositoryPublishControlPlane({ stagingDir, manifest: { ...base, restoreRecipe: RECIPE_FILE } }),
    );
    const warnings =
      keystone && !keystone.consistent
        ? [
            `Fernet/credential keys differ between Keystone hosts: ${keystone.differences.join('; ')}. Tokens issued by one host fail on another: sync the keys (restore one host's set to all: osbackup restore keys --from <host>)`,
          ]
        : [];
    steps.finish(warnings.length ? 'done: KEYSTONE KEYS DIFFER BETWEEN HOSTS' : 'done');
    return {
      backupId,
      path: published.path,
      parts: parts.map((p) => ({
        kind: p.kind,
        host: p.host,
        files: p.entries ? p.entries.filter((e) => e.type === 'file').length : null,
        bytes: p.bytes,
        sha256: p.sha256,
      })),
      missing,
      keystone,
      warnings,
    };
  } catch (e) {
    await CancellationScope.nonCancellable(() => data.repositoryDiscardStaging({ stagingDir }));
    throw e;
  }
}
