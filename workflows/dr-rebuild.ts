// The full rebuild of a lost cloud from its backups (the seed's "complete cloud rebuild"), in the
// order that works on Kolla (core/dr/rebuild-plan.ts says why): Kolla configs → bootstrap
// servers → MariaDB → the database at the chosen point → the other services → Keystone's keys →
// verify the services → volumes and images → user access.
//
// Resumable three ways: Temporal replays the run after a lost worker (children keep ids derived
// from the run's, so none starts twice; deploy commands are detached jobs an activity retry
// re-attaches to); a rerun under the same run id skips every step its journal in the repository
// (clouds/<cloud>/dr/<run>/steps.json) records as done; each step checks its own precondition.
// Two approval gates (before the first deploy, before the database is restored over what the
// server holds) wait for `approve` / `reject` signals unless approved in advance.
import {
  ApplicationFailure,
  CancellationScope,
  defineSignal,
  executeChild,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { awaitDecision, noDecision } from './approval.js';
import type { Activities } from '../activities/index.js';
import type { JobOutcome } from '../activities/ssh/jobs.js';
import type { DrillCheck, DrillStep } from '../core/dr/record.js';
import {
  childWorkflowId,
  COMMAND_OF,
  DR_STEPS,
  emptyJournal,
  journalBegin,
  journalEnd,
  planRebuild,
  rebuildRecord,
  runIdOf,
  stateBefore,
  type DrJournal,
  type DrStepName,
  type PlannedStep,
} from '../core/dr/rebuild-plan.js';
import { progressQuery, type Progress } from './messages.js';
import { dataBoundActivities, heartbeatingCall, shortCall, serverControl, shortActivities } from './options.js';
import { CLOUD, COMPONENT, PHASE, TIER } from './search-attributes.js';
import { restoreDatabaseWorkflow, type RestoreDatabaseResult } from './restore-database.js';
import {
  restoreKeystoneKeysWorkflow,
  restoreKollaConfigWorkflow,
  type RestoreConfigResult,
  type RestoreKeysResult,
} from './restore-control-plane.js';
import { restoreImageWorkflow, restoreVolumeWorkflow } from './restore-cloud-resources.js';
import { causeOf } from './verify.js';
import { chooseSnapshot } from '../core/openstack/restore.js';

// The rebuild's own calls are seconds long: a short start-to-close, so a worker lost in the
// middle of one costs seconds before the retry, not shortCall's two minutes.
const quick = shortActivities({ ...shortCall, startToCloseTimeout: '15 seconds' });
const restoring = shortActivities(heartbeatingCall);

/** Plain JSON with defaults, no secrets: startable from the Temporal UI as well as from `osbackup dr rebuild`. */
export interface DrRebuildInput {
  cloud: string;
  /** Names the run: its journal, record and job folders. Default: from the workflow id (dr-rebuild:<cloud>:<run>). */
  runId?: string;
  /** Database point in time (ISO UTC): the newest backup before it plus the archived binlogs. Excludes backupId. */
  at?: string;
  /** Database backup to restore (default: the newest intact restore point). */
  backupId?: string;
  /** Control-plane backup for the configs and keys (default: the newest). */
  controlPlaneBackupId?: string;
  /** Approve both gates in advance (`--yes`). */
  approved?: boolean;
  /** Seconds the approval gate waits for a decision before the run ends as rejected (default 24 h; clouds.<c>.approvalTimeoutHours from the CLI). */
  approvalTimeoutSeconds?: number;
  /** Leave volumes and images alone (the control plane only). */
  skipResources?: boolean;
}

export interface DrRebuildResult {
  outcome: 'completed' | 'rejected';
  cloud: string;
  runId: string;
  workflowId: string;
  /** Where a rejected run stopped (the gate), and the reason given. */
  stoppedAt: DrStepName | null;
  rejectReason: string | null;
  /** What state the cloud is in now, in a sentence. */
  cloudState: string;
  steps: DrillStep[];
  rtoSeconds: number | null;
  recordPath: string | null;
  database: { backupId: string; verification: string; pitrTarget: string | null } | null;
  token: { userId: string; projectId: string | null; catalog: string[] } | null;
  resources: {
    imagesPresent: string[];
    imagesReimported: { exportId: string; imageId: string }[];
    volumesPresent: string[];
    volumesRestored: { from: string; volumeId: string }[];
    problems: string[];
    notes: string[];
  } | null;
  checks: DrillCheck[];
}

/** `approve` with a gate name approves that gate (also in advance); without one, the gate waiting now (or the next). */
export const drApproveSignal = defineSignal<[string?]>('approve');
export const drRejectSignal = defineSignal<[string?]>('reject');

const GATES = DR_STEPS.filter((s) => s.kind === 'gate').map((s) => s.name);

/** The `progress` query's answer, each step also timed (the Progress shape, so every client reads it). */
export interface DrProgress extends Progress {
  steps: (Progress['steps'][number] & { startedAt?: string; completedAt?: string; seconds?: number })[];
}

export async function drRebuildWorkflow(input: DrRebuildInput): Promise<DrRebuildResult> {
  const info = workflowInfo();
  const { cloud } = input;
  if (!cloud)
    throw ApplicationFailure.nonRetryable(
      'the input names no cloud. Fix: start with {"cloud": "<name>"}',
      'ConfigInvalid',
    );
  if (input.at && input.backupId)
    throw ApplicationFailure.nonRetryable(
      'give either a database backup id or a point in time, not both. Fix: drop backupId (the newest backup before `at` is chosen)',
      'ConfigInvalid',
    );
  const runId = input.runId ?? runIdOf(info.workflowId, cloud);
  const wfId = info.workflowId;
  upsertSearchAttributes([
    { key: CLOUD, value: cloud },
    { key: COMPONENT, value: 'cloud' },
    { key: TIER, value: 'dr' },
  ]);

  // ---- gates ----
  const approvals = new Set<string>();
  let approveNext = false;
  let rejected: string | null = null;
  let waiting: string | null = null;
  setHandler(drApproveSignal, (gate?: string) => {
    if (gate && GATES.includes(gate as (typeof GATES)[number])) approvals.add(gate);
    else if (waiting) approvals.add(waiting);
    else approveNext = true;
  });
  setHandler(drRejectSignal, (reason?: string) => void (rejected ??= reason?.trim() || 'rejected by an operator'));

  // ---- progress ----
  const settings = await quick.drSettings({ cloud });
  const journal0 = await quick.drReadJournal({ cloud, runId });
  const planned: PlannedStep[] = planRebuild(settings.capabilities, {
    approved: !!input.approved,
    journal: journal0,
    skipResources: input.skipResources,
  });
  const progress: DrProgress = {
    phase: 'starting',
    steps: planned.map((p) => ({
      name: p.name,
      state: p.action === 'skip' ? 'done' : 'pending',
      ...(p.reason ? { detail: `skipped: ${p.reason}` } : {}),
    })),
  };
  setHandler(progressQuery, () => progress);
  const setPhase = (phase: string) => {
    progress.phase = phase;
    upsertSearchAttributes([{ key: PHASE, value: phase }]);
  };
  let journal: DrJournal = journal0 ?? emptyJournal(cloud, runId, wfId);
  journal = { ...journal, workflowId: wfId };
  const saveJournal = () => CancellationScope.nonCancellable(() => quick.drWriteJournal({ journal }));
  await saveJournal();
  const now = () => new Date().toISOString();
  const record: DrillStep[] = [];
  const checks: DrillCheck[] = [];
  const pv = (name: DrStepName) => progress.steps.find((s) => s.name === name)!;

  // skipped steps: their earlier timing (done in an earlier execution) or a zero-length entry
  const noteSkipped = (p: PlannedStep) => {
    const earlier = journal0?.steps.find((s) => s.name === p.name && (s.state === 'done' || s.state === 'skipped'));
    if (earlier && earlier.state === 'done')
      record.push({
        name: p.name,
        startedAt: earlier.startedAt,
        completedAt: earlier.completedAt ?? earlier.startedAt,
        seconds: earlier.seconds ?? 0,
        result: 'ok',
        detail: `${earlier.detail ?? 'done'} (earlier in this run)`,
      });
    else {
      const at = now();
      record.push({ name: p.name, startedAt: at, completedAt: at, seconds: 0, result: 'skipped', detail: p.reason });
    }
  };

  /** One step: journal begun, the work, journal ended; a failure is journaled (even when cancelled) and rethrown. */
  async function step<T>(
    name: DrStepName,
    work: () => Promise<T>,
    detail: (r: T) => string,
    extra: (r: T) => { launches?: number; facts?: Record<string, string | null> } = () => ({}),
  ): Promise<T | undefined> {
    const p = planned.find((x) => x.name === name)!;
    if (p.action === 'skip') {
      noteSkipped(p);
      return undefined;
    }
    const v = pv(name);
    const startedAt = now();
    v.state = 'running';
    v.startedAt = startedAt;
    setPhase(name);
    journal = journalBegin(journal, name, startedAt);
    await saveJournal();
    let r: T;
    try {
      r = await work();
    } catch (e) {
      const at = now();
      const why = causeOf(e);
      v.state = 'failed';
      v.detail = why;
      journal = journalEnd(journal, name, at, 'failed', { detail: why });
      record.push({
        name,
        startedAt,
        completedAt: at,
        seconds: secondsBetween(startedAt, at),
        result: 'failed',
        detail: why,
      });
      await saveJournal();
      throw e;
    }
    const at = now();
    const d = detail(r);
    Object.assign(v, { state: 'done', detail: d, completedAt: at, seconds: secondsBetween(startedAt, at) });
    journal = journalEnd(journal, name, at, 'done', { detail: d, ...extra(r) });
    record.push({ name, startedAt, completedAt: at, seconds: secondsBetween(startedAt, at), result: 'ok', detail: d });
    await saveJournal();
    return r;
  }

  /**
   * Waits for the gate's decision; true when approved. Journaled on its own (not through step):
   * a rejected gate is never recorded as done, so a resume of the run asks again.
   */
  async function gate(name: DrStepName): Promise<boolean> {
    const p = planned.find((x) => x.name === name)!;
    if (p.action === 'skip') {
      noteSkipped(p);
      return true;
    }
    const v = pv(name);
    const startedAt = now();
    Object.assign(v, {
      state: 'running',
      startedAt,
      detail: `waiting: osbackup dr approve ${wfId}   (or: osbackup dr reject ${wfId})`,
    });
    setPhase(name);
    journal = journalBegin(journal, name, startedAt);
    await saveJournal();
    waiting = name;
    if (approveNext) approvals.add(name);
    approveNext = false;
    if (!(await awaitDecision(() => approvals.has(name) || rejected !== null, input.approvalTimeoutSeconds)))
      rejected = noDecision(input.approvalTimeoutSeconds);
    waiting = null;
    const ok = approvals.has(name) && rejected === null;
    const at = now();
    const detail = ok ? `approved after ${secondsBetween(startedAt, at).toFixed(0)} s` : `rejected: ${rejected}`;
    Object.assign(v, {
      state: ok ? 'done' : 'failed',
      detail,
      completedAt: at,
      seconds: secondsBetween(startedAt, at),
    });
    journal = journalEnd(journal, name, at, ok ? 'done' : 'rejected', { detail });
    record.push({
      name,
      startedAt,
      completedAt: at,
      seconds: secondsBetween(startedAt, at),
      result: ok ? 'ok' : 'failed',
      detail,
    });
    await saveJournal();
    return ok;
  }

  const cmd = (name: DrStepName) =>
    step(
      name,
      async () => {
        const o: JobOutcome = await dataBoundActivities({
          ...serverControl,
          startToCloseTimeout: `${settings.stepTimeoutSeconds + 300} seconds`,
          heartbeatTimeout: '15 seconds',
          retry: { ...serverControl.retry, initialInterval: '1s', maximumAttempts: 10 },
        }).drRunCommand({ cloud, runId, execution: info.runId, step: name });
        if (o.exitCode !== 0)
          throw ApplicationFailure.nonRetryable(
            `step ${name}: ${o.argv0} on ${o.where} exited ${o.exitCode}${o.stderrTail ? `: ${o.stderrTail}` : ''}. The cloud: ${stateBefore(name)}. Fix: correct the cause, then rerun with the same run id (osbackup dr rebuild --run ${runId}): done steps are skipped`,
            'DrStepFailed',
          );
        return o;
      },
      (o) =>
        `${o.argv0} ${settings.commands[COMMAND_OF[name]!].slice(1).join(' ')} on ${o.where}: exit 0 in ${o.seconds.toFixed(1)} s${o.reattached ? ' (re-attached after a lost worker)' : ''}`,
      (o) => ({ launches: o.launches }),
    );

  const finishRejected = async (at: DrStepName): Promise<DrRebuildResult> => {
    setPhase(`rejected at ${at}`);
    for (const p of planned.slice(planned.findIndex((x) => x.name === at) + 1)) pv(p.name).detail = 'not run: rejected';
    return {
      outcome: 'rejected',
      cloud,
      runId,
      workflowId: wfId,
      stoppedAt: at,
      rejectReason: rejected,
      cloudState: stateBefore(at),
      steps: record,
      rtoSeconds: null,
      recordPath: null,
      database: null,
      token: null,
      resources: null,
      checks,
    };
  };

  // ---- the runbook ----
  const cp = await step(
    'restore-configs',
    async () => {
      const k = settings.kolla!;
      // precondition: a tree equal to the backup (files only on the target are kept) needs nothing
      const d = await restoring.controlPlaneDiffConfig({
        cloud,
        backupId: input.controlPlaneBackupId,
        targetHost: k.host,
        targetPath: k.configDir,
      });
      const changed = d.changes.filter((c) => c.change !== 'removed');
      if (changed.length === 0) return { backupId: d.backupId, restoredFiles: null, safetyCopy: null, already: true };
      const r: RestoreConfigResult = await executeChild(restoreKollaConfigWorkflow, {
        workflowId: childWorkflowId(wfId, 'restore-configs'),
        args: [{ cloud, backupId: d.backupId, targetHost: k.host, targetPath: k.configDir, overwrite: true }],
      });
      return { backupId: r.backupId, restoredFiles: r.restoredFiles, safetyCopy: r.safetyCopy, already: false };
    },
    (r) =>
      r.already
        ? `${settings.kolla!.host}:${settings.kolla!.configDir} already equals ${r.backupId}`
        : `${r.restoredFiles} files of ${r.backupId} to ${settings.kolla!.host}:${settings.kolla!.configDir}${r.safetyCopy ? ` (the previous tree kept as ${r.safetyCopy})` : ''}`,
    (r) => ({ facts: { backupId: r.backupId } }),
  );
  // the keys come from the same control-plane backup as the configs (also when a rerun skipped that step)
  const cpBackupId =
    cp?.backupId ??
    journal.steps.find((x) => x.name === 'restore-configs')?.facts?.backupId ??
    input.controlPlaneBackupId;

  if (!(await gate('approve-deploy'))) return finishRejected('approve-deploy');
  await cmd('bootstrap-servers');
  await cmd('deploy-mariadb');
  if (!(await gate('approve-database'))) return finishRejected('approve-database');

  const db = await step(
    'restore-database',
    async () => {
      const r: RestoreDatabaseResult = await executeChild(restoreDatabaseWorkflow, {
        workflowId: childWorkflowId(wfId, 'restore-database'),
        args: [{ cloud, targetHost: settings.dbHost, backupId: input.backupId, at: input.at, verify: true }],
      });
      return r;
    },
    (r) =>
      `${r.chain.join(' → ')} to ${settings.dbHost}: ${r.verification}${r.pointInTime ? `, binlogs replayed to ${r.pointInTime.target} (${r.pointInTime.transactions} transactions)` : ''}`,
    (r) => ({
      facts: { backupId: r.backupId, verification: r.verification, pitrTarget: r.pointInTime?.target ?? null },
    }),
  );
  const dbFacts = db
    ? { backupId: db.backupId, verification: db.verification, pitrTarget: db.pointInTime?.target ?? null }
    : ((journal.steps.find((s) => s.name === 'restore-database')?.facts as
        | { backupId: string; verification: string; pitrTarget: string | null }
        | undefined) ?? null);
  if (db && db.verification === 'FAILED')
    throw ApplicationFailure.nonRetryable(
      'the restored database did not reproduce the recorded data',
      'VerificationFailed',
    );

  await cmd('deploy-services');

  await step(
    'restore-fernet-keys',
    async () => {
      const r: RestoreKeysResult = await executeChild(restoreKeystoneKeysWorkflow, {
        workflowId: childWorkflowId(wfId, 'restore-fernet-keys'),
        args: [{ cloud, backupId: cpBackupId, hosts: settings.capabilities.keystoneHosts }],
      });
      return r;
    },
    (r) =>
      `${r.hosts.map((h) => `${h.host}: ${h.files.length} keys`).join(', ')} from ${r.backupId}, byte-equal: ${r.identical}`,
  );

  const services = await step(
    'verify-services',
    () =>
      shortActivities({
        ...serverControl,
        startToCloseTimeout: `${settings.verifyTimeoutSeconds + 120} seconds`,
        heartbeatTimeout: '20 seconds',
      }).drVerifyServices({ cloud, timeoutSeconds: settings.verifyTimeoutSeconds }),
    (r) => `token for user ${r.token.userId}; catalog ${r.catalog.map((c) => `${c.type} ${c.status}`).join(', ')}`,
  );
  if (services) {
    checks.push({
      name: 'Keystone token issued by the rebuilt Keystone',
      ok: true,
      actual: `user ${services.token.userId}, expires ${services.token.expiresAt}`,
    });
    for (const c of services.catalog)
      checks.push({
        name: `catalog endpoint ${c.type} answers`,
        ok: c.status !== null && c.status < 500,
        actual: `${c.url}: ${c.status ?? c.error}`,
      });
  }

  const resources = await step(
    'restore-resources',
    async () => {
      const plan = await restoring.drPlanResources({ cloud });
      const problems: string[] = [];
      const imagesReimported: { exportId: string; imageId: string }[] = [];
      for (const img of plan.images.filter((i) => i.state === 'data-lost')) {
        try {
          const r = await executeChild(restoreImageWorkflow, {
            workflowId: childWorkflowId(wfId, 'restore-resources', 'image', img.exportId),
            args: [{ cloud, exportId: img.exportId }],
          });
          imagesReimported.push({ exportId: img.exportId, imageId: r.imageId });
        } catch (e) {
          problems.push(`image ${img.imageId} (${img.name ?? '-'}): data lost, re-import failed: ${causeOf(e)}`);
        }
      }
      const volumesRestored: { from: string; volumeId: string }[] = [];
      // only a volume osbackup holds a snapshot of can be restored by it; the others are noted, not failures
      const notes: string[] = [];
      for (const v of plan.volumes.filter((x) => x.status === 'error')) {
        const choice = chooseSnapshot(
          await quick.openstackSnapshotCandidates({ cloud, volumeId: v.id }),
          { volumeId: v.id },
          cloud,
        );
        if (!choice.ok) {
          notes.push(
            `volume ${v.id} (${v.name ?? '-'}) is in error and cannot be restored by osbackup: ${choice.reason}`,
          );
          continue;
        }
        try {
          const r = await executeChild(restoreVolumeWorkflow, {
            workflowId: childWorkflowId(wfId, 'restore-resources', 'volume', v.id),
            args: [{ cloud, snapshot: choice.snapshot.id, name: `${v.name ?? v.id.slice(0, 8)}-restored` }],
          });
          volumesRestored.push({ from: v.id, volumeId: r.volumeId });
        } catch (e) {
          problems.push(
            `volume ${v.id} (${v.name ?? '-'}): in error, its restore from snapshot ${choice.snapshot.id} failed: ${causeOf(e)}`,
          );
        }
      }
      for (const x of plan.servers.filter((y) => y.status === 'ERROR'))
        notes.push(
          `server ${x.id} (${x.name}) is in ERROR: restore it from its instance snapshot (osbackup restore server)`,
        );
      return {
        imagesPresent: plan.images.filter((i) => i.state === 'present').map((i) => i.imageId),
        imagesReimported,
        volumesPresent: plan.volumes.filter((v) => v.status === 'available' || v.status === 'in-use').map((v) => v.id),
        volumesRestored,
        problems,
        notes,
        notInCloud: plan.images.filter((i) => i.state === 'not-in-cloud').length,
      };
    },
    (r) =>
      `images: ${r.imagesPresent.length} present, ${r.imagesReimported.length} re-imported; volumes: ${r.volumesPresent.length} present, ${r.volumesRestored.length} restored${r.problems.length ? `; ${r.problems.length} problems` : ''}${r.notes.length ? `; ${r.notes.length} notes` : ''}`,
  );
  if (resources) for (const p of resources.problems) checks.push({ name: 'resource restored', ok: false, actual: p });

  const userData = await step(
    'verify-user-data',
    () =>
      restoring.drVerifyUserData({
        cloud,
        images: resources ? [...resources.imagesPresent, ...resources.imagesReimported.map((i) => i.imageId)] : [],
        volumes: resources ? [...resources.volumesPresent, ...resources.volumesRestored.map((v) => v.volumeId)] : [],
      }),
    (r) => `${r.filter((c) => c.ok).length}/${r.length} checks passed`,
  );
  if (userData) checks.push(...userData);

  // ---- the record ----
  const restorePoint = dbFacts
    ? await quick.repositoryFindDatabaseBackup({ cloud, backupId: dbFacts.backupId }).then((m) => ({
        id: m.id,
        component: 'database',
        completedAt: m.completedAt,
        verification: dbFacts.verification,
        pitrTarget: dbFacts.pitrTarget,
      }))
    : { id: 'none', component: 'database', completedAt: '', verification: 'SKIPPED', pitrTarget: null };
  const order = new Map(DR_STEPS.map((s, i) => [s.name as string, i]));
  const rec = rebuildRecord({
    runId,
    cloud,
    workflowId: wfId,
    steps: [...record].sort((a, b) => order.get(a.name)! - order.get(b.name)!),
    restorePoint,
    rtoTargetSeconds: settings.rtoTargetSeconds,
    checks,
  });
  const written = await quick.drWriteRecord({ record: rec });
  setPhase(rec.result === 'passed' ? 'done' : 'checks failed');
  if (rec.result === 'failed')
    throw ApplicationFailure.nonRetryable(
      `the rebuild of ${cloud} ended but did not pass: ${rec.breaches.join('; ')}. The record: ${written.path}`,
      'VerificationFailed',
    );
  return {
    outcome: 'completed',
    cloud,
    runId,
    workflowId: wfId,
    stoppedAt: null,
    rejectReason: null,
    cloudState:
      'the cloud is rebuilt from its backups: services answer, volumes and images checked, user access verified',
    steps: rec.steps,
    rtoSeconds: rec.rtoSeconds,
    recordPath: written.path,
    database: dbFacts,
    token: services
      ? {
          userId: services.token.userId,
          projectId: services.token.projectId,
          catalog: services.catalog.map((c) => c.type),
        }
      : null,
    resources: resources
      ? {
          imagesPresent: resources.imagesPresent,
          imagesReimported: resources.imagesReimported,
          volumesPresent: resources.volumesPresent,
          volumesRestored: resources.volumesRestored,
          problems: resources.problems,
          notes: resources.notes,
        }
      : null,
    checks,
  };
}

function secondsBetween(a: string, b: string): number {
  return Math.max(0, (Date.parse(b) - Date.parse(a)) / 1000);
}
