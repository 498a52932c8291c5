// The activities of the full rebuild (drRebuildWorkflow): its settings from the config, the step
// journal and the record in the repository, the deploy commands as re-attachable jobs, the checks.
import { readFile } from 'node:fs/promises';
import { drSchema } from '../../config/dr-schema.js';
import {
  COMMAND_OF,
  drJournalKey,
  isRunId,
  parseJournal,
  rebuildReport,
  substituteCommand,
  type DrCapabilities,
  type DrCommand,
  type DrJournal,
  type DrStepName,
} from '../../core/dr/rebuild-plan.js';
import { drillRecordKey, drillReportKey, type DrillRecord } from '../../core/dr/record.js';
import type { ActivityContext } from '../context.js';
import type { Env } from '../deps.js';
import { fatal, fsFailure, FailureType } from '../errors.js';
import { withHeartbeat } from '../heartbeat.js';
import { planResources, verifyServices, verifyUserData } from './checks.js';
import { runJob, type JobOutcome } from '../ssh/jobs.js';

export interface DrSettings {
  capabilities: DrCapabilities;
  runOn: string;
  dbHost: string;
  kolla: { host: string; configDir: string } | null;
  /** The commands as they will run (argument arrays hold no secrets: config references only). */
  commands: Record<DrCommand, string[]>;
  stepTimeoutSeconds: number;
  verifyTimeoutSeconds: number;
  rtoTargetSeconds: number | null;
}

function settings(env: Env, cloud: string): DrSettings {
  const c = env.cloud(cloud);
  const dr = c.dr ?? drSchema.parse({});
  if (dr.runOn !== 'worker' && !c.hosts[dr.runOn])
    throw fatal(
      FailureType.ConfigInvalid,
      `clouds.${cloud}.dr.runOn names host "${dr.runOn}", which is not under hosts (${Object.keys(c.hosts).join(', ')})`,
      'use a host of this cloud or "worker"',
    );
  const kolla = c.controlPlane?.kolla
    ? { host: c.controlPlane.kolla.host, configDir: c.controlPlane.kolla.configDir }
    : null;
  const commands = {} as Record<DrCommand, string[]>;
  for (const k of ['bootstrapServers', 'deployMariadb', 'deployServices'] as const) {
    const r = substituteCommand(dr.commands[k], { configDir: kolla?.configDir ?? null });
    if ('problem' in r)
      throw fatal(
        FailureType.ConfigInvalid,
        `clouds.${cloud}.dr.commands.${k}: ${r.problem}`,
        'fix the command in the config and restart the worker',
      );
    commands[k] = r.argv;
  }
  return {
    capabilities: { kolla: !!kolla, keystoneHosts: c.controlPlane?.keystoneHosts ?? [], openstack: !!c.openstack },
    runOn: dr.runOn,
    dbHost: c.database.host,
    kolla,
    commands,
    stepTimeoutSeconds: Math.round(dr.stepTimeoutMinutes * 60),
    verifyTimeoutSeconds: Math.round(dr.verifyTimeoutMinutes * 60),
    rtoTargetSeconds: dr.rtoTargetMinutes === undefined ? null : Math.round(dr.rtoTargetMinutes * 60),
  };
}

const checkRunId = (runId: string) => {
  if (!isRunId(runId))
    throw fatal(
      FailureType.ConfigInvalid,
      `run id "${runId}" is not usable as a folder name`,
      'use letters, digits, ".", "_" and "-" (at most 64)',
    );
};

export function drActivities({ env }: ActivityContext) {
  return {
    /** What the rebuild of `cloud` will run, checked (runOn, placeholders) before anything is touched. */
    async drSettings(input: { cloud: string }): Promise<DrSettings> {
      return settings(env, input.cloud);
    },

    /** The run's step journal (clouds/<cloud>/dr/<run>/steps.json); null for a new run. */
    async drReadJournal(input: { cloud: string; runId: string }): Promise<DrJournal | null> {
      checkRunId(input.runId);
      const text = await readFile(env.repo.path(drJournalKey(input.cloud, input.runId)), 'utf8').catch(() => null);
      return text === null ? null : parseJournal(text);
    },

    async drWriteJournal(input: { journal: DrJournal }): Promise<void> {
      checkRunId(input.journal.runId);
      const key = drJournalKey(input.journal.cloud, input.journal.runId);
      try {
        await env.repo.writeAtomic(env.repo.path(key), JSON.stringify(input.journal, null, 2) + '\n');
      } catch (e) {
        throw fsFailure(e, `writing ${key}`);
      }
    },

    /**
     * One deploy command as a detached job keyed by run, execution and step: a retry after a
     * lost worker re-attaches to it (activities/dr/jobs.ts), a rerun of the run starts it afresh.
     */
    async drRunCommand(input: {
      cloud: string;
      runId: string;
      execution: string;
      step: DrStepName;
    }): Promise<JobOutcome> {
      checkRunId(input.runId);
      const which = COMMAND_OF[input.step];
      if (!which)
        throw fatal(FailureType.ConfigInvalid, `step ${input.step} runs no command`, 'this is a bug in the workflow');
      const s = settings(env, input.cloud);
      const key = `${input.runId}/${input.execution.replace(/[^A-Za-z0-9-]/g, '').slice(0, 36)}/${input.step}`;
      return runJob(env, input.cloud, s.runOn, key, s.commands[which], s.stepTimeoutSeconds);
    },

    async drVerifyServices(input: { cloud: string; timeoutSeconds: number }) {
      return verifyServices(env, input.cloud, input.timeoutSeconds);
    },

    async drPlanResources(input: { cloud: string }) {
      return withHeartbeat('listing what the restored database holds', planResources(env, input.cloud), 3000);
    },

    async drVerifyUserData(input: { cloud: string; images: string[]; volumes: string[] }) {
      return withHeartbeat('user access', verifyUserData(env, input.cloud, input), 3000);
    },

    /** The run's record and report where drills keep theirs (core/dr/record.ts). */
    async drWriteRecord(input: { record: DrillRecord }): Promise<{ path: string }> {
      const r = input.record;
      checkRunId(r.id);
      try {
        await env.repo.writeAtomic(env.repo.path(drillReportKey(r.cloud, r.id)), rebuildReport(r));
        await env.repo.writeAtomic(env.repo.path(drillRecordKey(r.cloud, r.id)), JSON.stringify(r, null, 2) + '\n');
      } catch (e) {
        throw fsFailure(e, `writing the record of ${r.id}`);
      }
      return { path: drillRecordKey(r.cloud, r.id) };
    },
  };
}
