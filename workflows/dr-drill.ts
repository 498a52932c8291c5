// The DR drill (the seed's monthly "restore test procedure", measured): the newest VERIFIED
// restore point restored onto an isolated drill host (never the live database host), the
// seed's counts and the recorded checksums compared, RTO measured per step and in total, RPO
// computed, both judged against the cloud's targets, and the drill recorded in the repository
// (drill.json + REPORT.md). A failed step, check or target fails the drill — after its record
// is written, so the failure is visible in the repository, in `osbackup status` and in the UI.
import {
  ApplicationFailure,
  CancellationScope,
  executeChild,
  isCancellation,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { DrillCheck, DrillRecord, DrillStep } from '../core/dr/record.js';
import { drillChecks, drillId, drillRecord } from '../core/dr/drill.js';
import { causeOf } from './verify.js';
import { longStream, shortCall, shortActivities, dataBoundActivities, dataBoundCall } from './options.js';
import { Steps } from './progress.js';
import { restoreDatabaseWorkflow, type RestoreDatabaseResult } from './restore-database.js';
import { CLOUD, COMPONENT, TIER } from './search-attributes.js';

const short = shortActivities(shortCall);
const data = dataBoundActivities(dataBoundCall);
const stream = dataBoundActivities(longStream);

export interface DrDrillInput {
  cloud: string;
}

export interface DrDrillResult {
  record: DrillRecord;
  recordPath: string;
  reportPath: string;
}

export async function drDrillWorkflow(input: DrDrillInput): Promise<DrDrillResult> {
  const info = workflowInfo();
  const { cloud } = input;
  upsertSearchAttributes([
    { key: CLOUD, value: cloud },
    { key: COMPONENT, value: 'database' },
    { key: TIER, value: 'drill' },
  ]);
  const startedAt = new Date().toISOString();
  const id = drillId(startedAt);
  const steps = new Steps(['plan', 'restore database', 'integrity checks', 'record']);
  // A plan that cannot be made (no drill section, the live host, no VERIFIED point) fails at
  // once: nothing was drilled, so there is nothing to record.
  const plan = await steps.run(
    'plan',
    () => short.drillPlan({ cloud, drillId: id }),
    (p) => `${p.point.id} onto ${p.host}; newest recoverable ${p.newest.at} (${p.newest.via})`,
  );

  const timed: DrillStep[] = [];
  /** Runs one measured step of the recovery; a failure is recorded, not thrown. */
  const measure = async <T>(name: string, work: () => Promise<T>, detail: (r: T) => string): Promise<T | null> => {
    const t0 = new Date();
    try {
      const r = await steps.run(name, work, detail);
      const t1 = new Date();
      timed.push({
        name,
        startedAt: t0.toISOString(),
        completedAt: t1.toISOString(),
        seconds: (t1.getTime() - t0.getTime()) / 1000,
        result: 'ok',
        detail: detail(r),
      });
      return r;
    } catch (e) {
      if (isCancellation(e)) throw e; // a cancelled drill stops; it measured nothing worth recording
      const t1 = new Date();
      timed.push({
        name,
        startedAt: t0.toISOString(),
        completedAt: t1.toISOString(),
        seconds: (t1.getTime() - t0.getTime()) / 1000,
        result: 'failed',
        detail: causeOf(e),
      });
      return null;
    }
  };

  const restored = await measure(
    'restore database',
    () =>
      executeChild(restoreDatabaseWorkflow, {
        workflowId: `${info.workflowId}-restore`,
        taskQueue: info.taskQueue,
        args: [{ cloud, targetHost: plan.host, backupId: plan.point.id, verify: true }],
      }),
    (r: RestoreDatabaseResult) =>
      `${r.chain.join(' → ')} onto ${r.targetHost}: ${r.verification}, ${r.tables.length} tables compared (stream ${r.timings.streamSeconds.toFixed(1)} s, prepare ${r.timings.prepareSeconds.toFixed(1)} s, copy back ${r.timings.copyBackSeconds.toFixed(1)} s)`,
  );
  let checks: DrillCheck[] = [];
  if (restored) {
    await measure(
      'integrity checks',
      async () => {
        const counted = await data.mariadbCollectFacts({ cloud, host: plan.host, tables: plan.tables });
        checks = drillChecks(plan.tables, plan.recorded, counted.tables, restored.tables);
        return checks;
      },
      (c) => `${c.filter((x) => x.ok).length}/${c.length} checks passed`,
    );
  }
  if (plan.controlPlane) {
    const cp = plan.controlPlane;
    // every sealed part re-read and hashed against the manifest; the Kolla tree unpacked into a
    // scratch folder on the drill host and read back against the backup's file list, then removed
    const r = await measure(
      'control plane',
      async () => {
        const checked = await stream.storageCheckArtifacts({
          cloud,
          target: plan.repository,
          artifacts: [{ id: cp.id, component: 'control-plane' }],
          workflowId: info.workflowId,
        });
        let files: number | null = null;
        if (cp.kolla) {
          try {
            files = (
              await short.controlPlaneRestoreConfig({
                cloud,
                backupId: cp.id,
                targetHost: plan.host,
                targetPath: cp.scratchPath,
              })
            ).files;
          } finally {
            await CancellationScope.nonCancellable(() =>
              data.mariadbRemoveRestoreDir({ cloud, backupId: cp.scratchName, targetHost: plan.host }),
            ).catch(() => undefined);
          }
        }
        return { checked, files };
      },
      (x) =>
        `${cp.id}: ${x.checked.map((a) => a.result).join(', ') || 'not found'}${x.files === null ? '' : `; Kolla tree unpacked into ${cp.scratchPath} (${x.files} files, equal to the backup), then removed`}`,
    );
    if (r)
      checks.push({
        name: `hashes of control-plane backup ${cp.id}`,
        ok: r.checked.length > 0 && r.checked.every((a) => a.result === 'CHECKED'),
        expected: 'CHECKED',
        actual: r.checked.map((a) => a.result).join(', ') || 'not found',
      });
  }

  const record = drillRecord({
    id,
    cloud,
    workflowId: info.workflowId,
    startedAt,
    completedAt: new Date().toISOString(),
    restorePoint: { ...plan.point, pitrTarget: null },
    steps: timed,
    newestRecoverableAt: plan.newest.at,
    targets: plan.targets,
    checks,
  });
  const written = await steps.run(
    'record',
    () => short.drillWriteRecord({ record }),
    (w) => w.record,
  );
  steps.finish(record.result === 'passed' ? 'passed' : 'failed');
  if (record.result === 'failed') {
    throw ApplicationFailure.nonRetryable(
      `DR drill ${id} of cloud ${cloud} FAILED: ${record.breaches.join('; ')}. The record and report are in ${written.record} and ${written.report}`,
      'DrillFailed',
    );
  }
  return { record, recordPath: written.record, reportPath: written.report };
}

/** The cloud's drill and rebuild records, newest first (`osbackup status` reads them through the worker, which holds the repository). */
export async function drillRecordsWorkflow(input: { cloud: string; limit?: number }): Promise<DrillRecord[]> {
  return short.drillListRecords(input);
}
