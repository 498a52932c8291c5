// Putting the control plane back, one runbook per part:
//  - keys: the same key set to every Keystone host — staged, hash-checked, swapped per file,
//    owner and 0600 restored — then proven byte-equal everywhere;
//  - configs: to a target folder; a dry run shows the diff; a folder that would change is
//    never overwritten without `overwrite`, and its content is backed up first;
//  - RabbitMQ: import_definitions, then export again and compare.
import { ApplicationFailure, executeChild, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { TreeChange } from '../core/control-plane/control-plane.js';
import type { DefinitionDifference } from '../core/control-plane/rabbitmq-definitions.js';
import { backupControlPlaneWorkflow, type BackupControlPlaneResult } from './backup-control-plane.js';
import { heartbeatingCall, shortCall, shortActivities } from './options.js';
import { Steps } from './progress.js';
import { CLOUD, COMPONENT, TIER } from './search-attributes.js';

const short = shortActivities(shortCall);
// restores and diffs read and write whole trees: heartbeating, so a lost worker costs seconds
const restoring = shortActivities(heartbeatingCall);

function tag(component: string, cloud: string) {
  upsertSearchAttributes([
    { key: CLOUD, value: cloud },
    { key: COMPONENT, value: component },
    { key: TIER, value: 'restore' },
  ]);
}

export interface RestoreKeysInput {
  cloud: string;
  backupId?: string;
  /** Whose key set to restore when the backup recorded diverged keys. */
  fromHost?: string;
  /** Keystone hosts to restore to (the client passes the configured ones). */
  hosts: string[];
}

export interface RestoreKeysResult {
  backupId: string;
  fromHost: string;
  hosts: { host: string; files: { path: string; sha256: string; mode: string; owner: string }[] }[];
  /** Every host holds byte-identical keys (same names, same SHA-256). */
  identical: boolean;
}

export async function restoreKeystoneKeysWorkflow(input: RestoreKeysInput): Promise<RestoreKeysResult> {
  const { cloud } = input;
  tag('keystone-keys', cloud);
  const steps = new Steps(['choose key set', ...input.hosts.map((h) => `install on ${h}`), 'check']);
  const found = await steps.run(
    'choose key set',
    () => short.controlPlaneFind({ cloud, backupId: input.backupId }),
    (f) => f.id,
  );
  const results = await Promise.all(
    input.hosts.map((h) =>
      steps.run(
        `install on ${h}`,
        () => restoring.controlPlaneRestoreKeys({ cloud, backupId: found.id, fromHost: input.fromHost, toHost: h }),
        (r) => `${r.files.length} keys from ${r.fromHost}'s set`,
      ),
    ),
  );
  const identical = await steps.run(
    'check',
    async () => {
      const sig = (r: (typeof results)[number]) =>
        r.files
          .map((f) => `${f.path} ${f.sha256}`)
          .sort()
          .join('\n');
      return results.every((r) => sig(r) === sig(results[0]!));
    },
    (same) => (same ? `keys byte-equal on ${input.hosts.join(', ')}` : 'KEYS DIFFER'),
  );
  if (!identical)
    throw ApplicationFailure.nonRetryable(
      `after the restore the Keystone hosts hold different keys (${results.map((r) => `${r.host}: ${r.files.length}`).join(', ')}). Fix: run the restore again; check each host's key folder`,
      'VerificationFailed',
    );
  steps.finish('done');
  return {
    backupId: found.id,
    fromHost: results[0]?.fromHost ?? '',
    hosts: results.map((r) => ({ host: r.host, files: r.files })),
    identical,
  };
}

export interface RestoreConfigInput {
  cloud: string;
  backupId?: string;
  targetHost: string;
  targetPath: string;
  dryRun?: boolean;
  /** Replace what the folder holds now (after backing it up). Without it, a folder that would change is left alone. */
  overwrite?: boolean;
}

export interface RestoreConfigResult {
  backupId: string;
  targetHost: string;
  targetPath: string;
  dryRun: boolean;
  changes: (TreeChange & { secret: boolean })[];
  patches: { path: string; patch: string }[];
  /** The safety copy of what the folder held before it was overwritten. */
  safetyCopy: string | null;
  restoredFiles: number | null;
  /** Files only on the target: a restore keeps them. */
  kept: string[];
}

export async function restoreKollaConfigWorkflow(input: RestoreConfigInput): Promise<RestoreConfigResult> {
  const { cloud, targetHost, targetPath } = input;
  tag('kolla-config', cloud);
  const steps = new Steps(['diff', ...(input.dryRun ? [] : ['safety copy', 'restore'])]);
  const d = await steps.run(
    'diff',
    () => restoring.controlPlaneDiffConfig({ cloud, backupId: input.backupId, targetHost, targetPath }),
    (r) =>
      `${r.changes.filter((c) => c.change !== 'removed').length} changes, ${r.changes.filter((c) => c.change === 'removed').length} files only on the target`,
  );
  const base = {
    backupId: d.backupId,
    targetHost,
    targetPath,
    changes: d.changes,
    patches: d.patches,
    kept: d.changes.filter((c) => c.change === 'removed').map((c) => c.path),
  };
  if (input.dryRun) {
    steps.finish('dry run: nothing changed');
    return { ...base, dryRun: true, safetyCopy: null, restoredFiles: null };
  }
  const overwrites = d.changes.filter((c) => c.change !== 'added' && c.change !== 'removed');
  if (overwrites.length && !input.overwrite) {
    throw ApplicationFailure.nonRetryable(
      `${targetHost}:${targetPath} holds ${overwrites.length} file(s) the restore would change (${overwrites
        .slice(0, 5)
        .map((c) => `${c.path}: ${c.change}`)
        .join(
          ', ',
        )}${overwrites.length > 5 ? ', …' : ''}); nothing was changed. Fix: look at the diff (--dry-run), then rerun with --overwrite (the current content is backed up first)`,
      'TargetNotEmpty',
    );
  }
  let safetyCopy: string | null = null;
  if (!d.targetEmpty) {
    const copy = await steps.run(
      'safety copy',
      () =>
        executeChild(backupControlPlaneWorkflow, {
          workflowId: `${workflowInfo().workflowId}:safety-copy`,
          args: [
            {
              cloud,
              preRestoreOf: { host: targetHost, dir: targetPath },
              configured: { kolla: false, keystoneHosts: [], rabbitmq: false },
            },
          ],
        }) as Promise<BackupControlPlaneResult>,
      (c) => c.backupId,
    );
    safetyCopy = copy.backupId;
  }
  const r = await steps.run(
    'restore',
    () => restoring.controlPlaneRestoreConfig({ cloud, backupId: d.backupId, targetHost, targetPath }),
    (x) => `${x.files} files, equal to the backup`,
  );
  steps.finish('done');
  return { ...base, dryRun: false, safetyCopy, restoredFiles: r.files, kept: r.kept };
}

export interface RestoreRabbitmqInput {
  cloud: string;
  backupId?: string;
  targetHost: string;
}

export interface RestoreRabbitmqResult {
  backupId: string;
  targetHost: string;
  summary: Record<string, number>;
  /** On the target only (e.g. a stock broker's guest user): reported, not an error. */
  extra: DefinitionDifference[];
}

export async function restoreRabbitmqWorkflow(input: RestoreRabbitmqInput): Promise<RestoreRabbitmqResult> {
  const { cloud, targetHost } = input;
  tag('rabbitmq', cloud);
  const steps = new Steps(['choose backup', 'import and compare']);
  const found = await steps.run(
    'choose backup',
    () => short.controlPlaneFind({ cloud, backupId: input.backupId }),
    (f) => f.id,
  );
  const r = await steps.run(
    'import and compare',
    () => short.controlPlaneRestoreRabbitmq({ cloud, backupId: found.id, targetHost }),
    (x) => (x.differences.length ? `${x.differences.length} differences` : 'definitions equal'),
  );
  const bad = r.differences.filter((x) => x.kind !== 'extra');
  if (bad.length)
    throw ApplicationFailure.nonRetryable(
      `${targetHost}: after import_definitions the broker's definitions differ from the backup: ${bad
        .slice(0, 8)
        .map((x) => x.message)
        .join(
          '; ',
        )}. Fix: check the broker's log; definitions the broker rejects (plugins, versions) must be fixed by hand`,
      'VerificationFailed',
    );
  steps.finish('done');
  return { backupId: found.id, targetHost, summary: r.summary, extra: r.differences.filter((x) => x.kind === 'extra') };
}
