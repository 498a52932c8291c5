// The gate a CI pipeline runs before `kolla-ansible upgrade`/`reconfigure` — the seed's "backup
// is the first step in upgrade runbooks", made checkable: a fresh full database backup and a
// control-plane backup, both re-read from storage, optionally proven by a restore, then the
// verdict from the catalog. Like verify, the report is the product: a closed gate completes
// with ok=false and the stage that closed it; the CLI turns that into an exit code.
import {
  CancellationScope,
  executeChild,
  isCancellation,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { backupControlPlaneWorkflow, type BackupControlPlaneResult } from './backup-control-plane.js';
import { backupDatabaseWorkflow, type BackupDatabaseResult } from './backup-database.js';
import type { GateVerdict } from '../core/preflight/preflight.js';
import type { ArtifactCheck } from '../core/verify/report.js';
import { longStream, shortCall, shortActivities, dataBoundActivities } from './options.js';
import { Steps } from './progress.js';
import { restoreDatabaseWorkflow, type RestoreDatabaseResult } from './restore-database.js';
import { CLOUD, COMPONENT, TIER } from './search-attributes.js';
import { causeOf } from './verify.js';

const short = shortActivities(shortCall);
const { storageCheckArtifacts } = dataBoundActivities(longStream);

export interface PreflightInput {
  cloud: string;
  /** The restore point must have completed within this many minutes. */
  maxAgeMinutes: number;
  /** The whole gate must finish within this; a backup still retrying then closes it. */
  timeoutSeconds: number;
  /** Also restore the new backup onto this host and compare every recorded fact (VERIFIED). */
  proveOn?: string;
}

export type PreflightStage = 'backup' | 'verify' | 'gate';

export interface PreflightResult {
  ok: boolean;
  cloud: string;
  /** The stage that closed the gate (null when open). */
  failedStage: PreflightStage | null;
  failure: string | null;
  /** Runs to read with `osbackup logs` when something failed. */
  children: string[];
  database: Pick<BackupDatabaseResult, 'backupId' | 'bytes' | 'sha256' | 'streamSeconds'> | null;
  controlPlane: Pick<BackupControlPlaneResult, 'backupId' | 'missing' | 'warnings'> | null;
  checks: Pick<ArtifactCheck, 'id' | 'result' | 'checkedAt'>[];
  proof: { host: string; verification: RestoreDatabaseResult['verification']; tables: number; seconds: number } | null;
  verdict: GateVerdict | null;
}

export async function preflightWorkflow(input: PreflightInput): Promise<PreflightResult> {
  const info = workflowInfo();
  const { cloud } = input;
  upsertSearchAttributes([
    { key: CLOUD, value: cloud },
    { key: COMPONENT, value: 'preflight' },
    { key: TIER, value: 'preflight' },
  ]);
  const plan = await short.tierPlan({ cloud, tier: 'control-plane' });
  const cpConfigured =
    plan.controlPlane.kolla || plan.controlPlane.rabbitmq || plan.controlPlane.keystoneHosts.length > 0;
  const steps = new Steps([
    'back up the database (full)',
    ...(cpConfigured ? ['back up the control plane'] : []),
    're-read from storage',
    ...(input.proveOn ? [`prove by restoring on ${input.proveOn}`] : []),
    'gate',
  ]);
  const result: PreflightResult = {
    ok: false,
    cloud,
    failedStage: null,
    failure: null,
    children: [],
    database: null,
    controlPlane: null,
    checks: [],
    proof: null,
    verdict: null,
  };
  const child = (what: string) => {
    const workflowId = `${info.workflowId}-${what}`;
    result.children.push(workflowId);
    return { workflowId, taskQueue: info.taskQueue };
  };
  let stage: PreflightStage = 'backup';
  const closed = (failure: string, phase: string): PreflightResult => {
    steps.finish(phase);
    return { ...result, failedStage: stage, failure };
  };

  try {
    // One deadline for the backups and the proof: a database that cannot be reached keeps its
    // activities retrying, and CI must hear "backup failed" when the timeout passes, not hang.
    await CancellationScope.withTimeout(input.timeoutSeconds * 1000, async () => {
      const db = await steps.run(
        'back up the database (full)',
        () =>
          executeChild(backupDatabaseWorkflow, {
            ...child('db'),
            args: [{ cloud, kind: 'full', tier: 'preflight', toolVersion: plan.toolVersion }],
          }),
        (r) => r.backupId,
      );
      result.database = { backupId: db.backupId, bytes: db.bytes, sha256: db.sha256, streamSeconds: db.streamSeconds };
      if (cpConfigured) {
        const cp = await steps.run(
          'back up the control plane',
          () =>
            executeChild(backupControlPlaneWorkflow, {
              ...child('cp'),
              args: [{ cloud, tier: 'preflight', toolVersion: plan.toolVersion, configured: plan.controlPlane }],
            }),
          (r) => r.backupId,
        );
        result.controlPlane = { backupId: cp.backupId, missing: cp.missing, warnings: cp.warnings };
      }
      stage = 'verify';
      const artifacts = [
        { id: db.backupId, component: 'database' },
        ...(result.controlPlane ? [{ id: result.controlPlane.backupId, component: 'control-plane' }] : []),
      ];
      const checks = await steps.run(
        're-read from storage',
        () => storageCheckArtifacts({ cloud, target: plan.primary, artifacts, workflowId: info.workflowId }),
        (c) => c.map((x) => `${x.id} ${x.result}`).join(', '),
      );
      result.checks = checks.map(({ id, result: r, checkedAt }) => ({ id, result: r, checkedAt }));
      if (input.proveOn) {
        const host = input.proveOn;
        const r = await steps.run(
          `prove by restoring on ${host}`,
          () =>
            executeChild(restoreDatabaseWorkflow, {
              ...child('prove'),
              args: [{ cloud, targetHost: host, backupId: db.backupId, verify: true }],
            }),
          (x) => x.verification,
        );
        result.proof = { host, verification: r.verification, tables: r.tables.length, seconds: r.timings.totalSeconds };
      }
    });
  } catch (e) {
    if (!isCancellation(e) || CancellationScope.current().consideredCancelled) {
      if (isCancellation(e)) throw e;
      return closed(causeOf(e), `${stage} failed`);
    }
    return closed(
      `not finished within ${input.timeoutSeconds} s (the timeout); \`osbackup logs ${result.children.at(-1) ?? info.workflowId}\` shows what it was retrying`,
      `${stage} timed out`,
    );
  }

  stage = 'gate';
  const bad = result.checks.filter((c) => c.result !== 'CHECKED');
  if (bad.length) {
    stage = 'verify';
    return closed(`re-read from storage: ${bad.map((c) => `${c.id} ${c.result}`).join(', ')}`, 'verify failed');
  }
  const verdict = await steps.run('gate', () =>
    short.preflightGate({
      cloud,
      maxAgeMinutes: input.maxAgeMinutes,
      prove: !!input.proveOn,
      controlPlaneRequired: cpConfigured,
      checked: Object.fromEntries(result.checks.map((c) => [c.id, c.result])),
    }),
  );
  result.verdict = verdict;
  if (!verdict.ok) return closed(verdict.problems.join('; '), 'gate closed');
  steps.finish('gate open');
  return { ...result, ok: true };
}
