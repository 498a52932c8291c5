// The full-rebuild runbook (drRebuildWorkflow) as data: its steps in the order that works on
// Kolla, which of them a run skips and why, the step journal a rerun of the same run id resumes
// from, the substitution in the deploy commands, and the record a finished run leaves.
// Pure: imported by the workflow, the activities and the client.
import type { DrillCheck, DrillRecord, DrillStep } from './record.js';
import { DRILL_FORMAT, targetBreaches } from './record.js';

export type DrStepKind = 'child' | 'command' | 'gate' | 'check';

export interface DrStepDef {
  name: DrStepName;
  kind: DrStepKind;
  /** Changes the cloud (a rerun of the same run id must not do it again once done). */
  sideEffects: boolean;
  /** One line for the progress view and the report. */
  what: string;
}

/**
 * The seed lists bootstrap-servers first, but it needs the inventory and globals.yml (restored
 * first), and the database can only be restored once the mariadb container exists (deployed
 * alone first); the other services are deployed onto the restored database, and Keystone's
 * keys go back after its deploy (which would otherwise leave keys of its own).
 */
export const DR_STEPS = [
  {
    name: 'restore-configs',
    kind: 'child',
    sideEffects: true,
    what: 'restore the Kolla config tree on the deploy host',
  },
  {
    name: 'approve-deploy',
    kind: 'gate',
    sideEffects: false,
    what: 'approval: bootstrap the servers and deploy MariaDB',
  },
  {
    name: 'bootstrap-servers',
    kind: 'command',
    sideEffects: true,
    what: 'bootstrap the servers (Kolla: kolla-ansible bootstrap-servers)',
  },
  {
    name: 'deploy-mariadb',
    kind: 'command',
    sideEffects: true,
    what: 'deploy MariaDB alone (Kolla: deploy --tags mariadb)',
  },
  {
    name: 'approve-database',
    kind: 'gate',
    sideEffects: false,
    what: 'approval: restore the database over what the server holds',
  },
  {
    name: 'restore-database',
    kind: 'child',
    sideEffects: true,
    what: 'restore the database to the chosen point (restoreDatabaseWorkflow)',
  },
  {
    name: 'deploy-services',
    kind: 'command',
    sideEffects: true,
    what: 'deploy the other services (Kolla: kolla-ansible deploy)',
  },
  {
    name: 'restore-fernet-keys',
    kind: 'child',
    sideEffects: true,
    what: "restore Keystone's Fernet and credential keys to every Keystone host",
  },
  {
    name: 'verify-services',
    kind: 'check',
    sideEffects: false,
    what: 'a Keystone token and every endpoint of the service catalog answering',
  },
  {
    name: 'restore-resources',
    kind: 'child',
    sideEffects: true,
    what: 'images whose data is lost re-imported, volumes in error restored, the rest checked present',
  },
  {
    name: 'verify-user-data',
    kind: 'check',
    sideEffects: false,
    what: "images, volumes and servers listed with the cloud's credentials, image data read",
  },
] as const satisfies readonly { name: string; kind: DrStepKind; sideEffects: boolean; what: string }[];

export type DrStepName = (typeof DR_STEPS)[number]['name'];
export const DR_STEP_NAMES: DrStepName[] = DR_STEPS.map((s) => s.name);
export type DrCommand = 'bootstrapServers' | 'deployMariadb' | 'deployServices';
export const COMMAND_OF: Partial<Record<DrStepName, DrCommand>> = {
  'bootstrap-servers': 'bootstrapServers',
  'deploy-mariadb': 'deployMariadb',
  'deploy-services': 'deployServices',
};

/** What the cloud's config says the rebuild can do (read by an activity: workflows read no config). */
export interface DrCapabilities {
  kolla: boolean;
  keystoneHosts: string[];
  openstack: boolean;
}

export interface PlannedStep {
  name: DrStepName;
  kind: DrStepKind;
  what: string;
  action: 'run' | 'skip';
  /** Why a step is skipped (nothing configured for it, done earlier in this run, approved in advance). */
  reason?: string;
}

/**
 * The steps of one run, in order. A step done earlier under the same run id (journal) is
 * skipped; a gate approved in advance (`--yes`) is skipped; a step the config gives nothing to
 * do (no Keystone hosts, no OpenStack API access) is skipped and says so.
 */
export function planRebuild(
  cap: DrCapabilities,
  opts: { approved: boolean; journal?: DrJournal | null; skipResources?: boolean },
): PlannedStep[] {
  const done = new Set(
    (opts.journal?.steps ?? []).filter((s) => s.state === 'done' || s.state === 'skipped').map((s) => s.name),
  );
  return DR_STEPS.map((d): PlannedStep => {
    const base = { name: d.name, kind: d.kind, what: d.what };
    const skip = (reason: string): PlannedStep => ({ ...base, action: 'skip', reason });
    if (done.has(d.name)) return skip(`done earlier in this run (${opts.journal!.runId})`);
    if (d.kind === 'gate' && opts.approved) return skip('approved in advance (--yes)');
    if (d.name === 'restore-configs' && !cap.kolla)
      return skip('no controlPlane.kolla section: the Kolla tree is not restored');
    if (d.name === 'restore-fernet-keys' && cap.keystoneHosts.length === 0)
      return skip('no controlPlane.keystoneHosts: no keys to restore');
    if ((d.name === 'verify-services' || d.name === 'verify-user-data') && !cap.openstack)
      return skip('no openstack section: no API access to check with');
    if (d.name === 'restore-resources' && !cap.openstack)
      return skip('no openstack section: no API access to check with');
    if (d.name === 'restore-resources' && opts.skipResources) return skip('skipped on request (skipResources)');
    return { ...base, action: 'run' };
  });
}

// ---- command substitution ----

const PLACEHOLDER = /\{([A-Za-z]+)\}/g;

/** "{configDir}" and "{inventory}" inside each argument; any other {name} is a config error (returned, not thrown). */
export function substituteCommand(
  argv: readonly string[],
  vars: { configDir: string | null },
): { argv: string[] } | { problem: string } {
  const values: Record<string, string | null> = {
    configDir: vars.configDir,
    inventory: vars.configDir === null ? null : `${vars.configDir.replace(/\/+$/, '')}/inventory`,
  };
  const unknown = new Set<string>();
  const missing = new Set<string>();
  const out = argv.map((a) =>
    a.replace(PLACEHOLDER, (whole: string, name: string): string => {
      if (!(name in values)) {
        unknown.add(whole);
        return whole;
      }
      const v = values[name] ?? null;
      if (v === null) {
        missing.add(whole);
        return whole;
      }
      return v;
    }),
  );
  if (unknown.size)
    return { problem: `unknown placeholder ${[...unknown].join(', ')} (known: {configDir}, {inventory})` };
  if (missing.size) return { problem: `${[...missing].join(', ')} needs controlPlane.kolla (its configDir)` };
  return { argv: out };
}

// ---- identifiers ----

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const isRunId = (s: string) => RUN_ID.test(s);

export const drRebuildWorkflowId = (cloud: string, runId: string) => `dr-rebuild:${cloud}:${runId}`;

/** The run id of a workflow: the tail of dr-rebuild:<cloud>:<run>, else the workflow id made path-safe (a start from the UI). */
export function runIdOf(workflowId: string, cloud: string): string {
  const prefix = `dr-rebuild:${cloud}:`;
  const tail = workflowId.startsWith(prefix) ? workflowId.slice(prefix.length) : workflowId;
  const safe = tail
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 64);
  return safe || 'run';
}

/** Children get ids derived from the parent's and the step: a replay after a worker restart finds the same child, never starts a second. */
export const childWorkflowId = (parentId: string, step: DrStepName, ...extra: string[]) =>
  [parentId, step, ...extra].join(':');

export const drRunDir = (cloud: string, runId: string) => `clouds/${cloud}/dr/${runId}`;
export const drJournalKey = (cloud: string, runId: string) => `${drRunDir(cloud, runId)}/steps.json`;

// ---- the step journal (clouds/<cloud>/dr/<run>/steps.json) ----

export const DR_JOURNAL_FORMAT = 1;

export interface DrJournalStep {
  name: DrStepName;
  state: 'running' | 'done' | 'skipped' | 'failed' | 'rejected';
  startedAt: string;
  completedAt?: string;
  seconds?: number;
  detail?: string;
  /** How many times a workflow execution began this step's work (1 unless a rerun had to redo it). */
  executions: number;
  /** For command steps: how many times the command itself was launched (a worker restart re-attaches, it does not launch). */
  launches?: number;
  /** What a later execution of the run needs from this step (the database step's restore point). */
  facts?: Record<string, string | null>;
}

export interface DrJournal {
  formatVersion: typeof DR_JOURNAL_FORMAT;
  cloud: string;
  runId: string;
  workflowId: string;
  steps: DrJournalStep[];
}

export function emptyJournal(cloud: string, runId: string, workflowId: string): DrJournal {
  return { formatVersion: DR_JOURNAL_FORMAT, cloud, runId, workflowId, steps: [] };
}

export function parseJournal(text: string): DrJournal | null {
  try {
    const j = JSON.parse(text) as Partial<DrJournal>;
    if (j.formatVersion !== DR_JOURNAL_FORMAT || typeof j.runId !== 'string' || !Array.isArray(j.steps)) return null;
    return j as DrJournal;
  } catch {
    return null;
  }
}

/** The journal with `name` begun (its execution counted) at `at`. */
export function journalBegin(j: DrJournal, name: DrStepName, at: string): DrJournal {
  const prev = j.steps.find((s) => s.name === name);
  const step: DrJournalStep = {
    name,
    state: 'running',
    startedAt: at,
    executions: (prev?.executions ?? 0) + 1,
    ...(prev?.launches !== undefined ? { launches: prev.launches } : {}),
  };
  return { ...j, steps: [...j.steps.filter((s) => s.name !== name), step] };
}

/** The journal with `name` ended. */
export function journalEnd(
  j: DrJournal,
  name: DrStepName,
  at: string,
  state: DrJournalStep['state'],
  extra: { detail?: string; launches?: number; startedAt?: string; facts?: Record<string, string | null> } = {},
): DrJournal {
  const prev = j.steps.find((s) => s.name === name);
  const startedAt = prev?.startedAt ?? extra.startedAt ?? at;
  const step: DrJournalStep = {
    name,
    state,
    startedAt,
    completedAt: at,
    seconds: Math.max(0, (Date.parse(at) - Date.parse(startedAt)) / 1000),
    executions: prev?.executions ?? (state === 'skipped' ? 0 : 1),
    ...(extra.detail !== undefined
      ? { detail: extra.detail }
      : prev?.detail !== undefined
        ? { detail: prev.detail }
        : {}),
    ...(extra.launches !== undefined
      ? { launches: (prev?.launches ?? 0) + extra.launches }
      : prev?.launches !== undefined
        ? { launches: prev.launches }
        : {}),
    ...(extra.facts ? { facts: extra.facts } : prev?.facts ? { facts: prev.facts } : {}),
  };
  return { ...j, steps: [...j.steps.filter((s) => s.name !== name), step] };
}

// ---- where a stopped run left the cloud ----

/** A sentence for the operator: what state the cloud is in when a run stops before `step`. */
export function stateBefore(step: DrStepName): string {
  const i = DR_STEP_NAMES.indexOf(step);
  const reached = (n: DrStepName) => DR_STEP_NAMES.indexOf(n) < i;
  if (!reached('restore-configs')) return 'nothing was changed';
  if (!reached('bootstrap-servers'))
    return 'the Kolla config tree is restored on the deploy host (the previous one kept as a pre-restore control-plane backup when it differed); nothing was bootstrapped or deployed';
  if (!reached('deploy-mariadb'))
    return 'the Kolla config tree is restored and the servers are bootstrapped; nothing is deployed';
  if (!reached('restore-database'))
    return 'the Kolla config tree is restored, the servers are bootstrapped and MariaDB is deployed with whatever data it holds; the database was NOT restored and no other service is deployed';
  if (!reached('deploy-services')) return 'the database is restored; the other services are not deployed';
  if (!reached('restore-fernet-keys'))
    return "the services are deployed on the restored database; Keystone's keys are NOT the restored ones (tokens issued before the loss do not validate)";
  if (!reached('verify-services'))
    return 'the services are deployed with the restored database and keys; not verified yet';
  if (!reached('restore-resources'))
    return 'the control plane is rebuilt and answers; volumes and images were not checked';
  if (!reached('verify-user-data'))
    return 'the control plane is rebuilt, volumes and images checked; user access not verified';
  return 'the rebuild is complete';
}

// ---- the record ----

export interface DrRecordInput {
  runId: string;
  cloud: string;
  workflowId: string;
  steps: DrillStep[];
  restorePoint: DrillRecord['restorePoint'];
  rtoTargetSeconds: number | null;
  checks: DrillCheck[];
}

/** The rebuild's record (core/dr/record.ts, kind "rebuild"): RTO from the first step's start to the last one's end. */
export function rebuildRecord(r: DrRecordInput): DrillRecord {
  const timed = r.steps.filter((s) => s.startedAt && s.completedAt);
  const startedAt = timed.map((s) => s.startedAt).sort()[0] ?? new Date(0).toISOString();
  const completedAt =
    timed
      .map((s) => s.completedAt)
      .sort()
      .at(-1) ?? startedAt;
  const rtoSeconds = Math.max(0, (Date.parse(completedAt) - Date.parse(startedAt)) / 1000);
  const base = { rtoSeconds, rpoSeconds: null, targets: { rtoSeconds: r.rtoTargetSeconds, rpoSeconds: null } };
  const breaches = [
    ...targetBreaches(base),
    ...r.steps
      .filter((s) => s.result === 'failed')
      .map((s) => `step ${s.name} failed${s.detail ? `: ${s.detail}` : ''}`),
    ...r.checks
      .filter((c) => !c.ok)
      .map((c) => `check failed: ${c.name}${c.actual !== undefined ? ` (${c.actual})` : ''}`),
  ];
  return {
    formatVersion: DRILL_FORMAT,
    kind: 'rebuild',
    id: r.runId,
    cloud: r.cloud,
    workflowId: r.workflowId,
    startedAt,
    completedAt,
    restorePoint: r.restorePoint,
    steps: r.steps,
    ...base,
    checks: r.checks,
    result: breaches.length ? 'failed' : 'passed',
    breaches,
  };
}

/** The Markdown report beside the record. */
export function rebuildReport(rec: DrillRecord): string {
  const rows = rec.steps.map(
    (s, i) =>
      `| ${i + 1} | ${s.name} | ${s.result} | ${s.seconds.toFixed(1)} | ${(s.detail ?? '').replace(/\|/g, '\\|')} |`,
  );
  const checks = rec.checks.map(
    (c) => `- ${c.ok ? 'OK' : 'FAILED'} ${c.name}${c.actual !== undefined ? `: ${c.actual}` : ''}`,
  );
  return [
    `# Disaster recovery rebuild ${rec.id} of ${rec.cloud}: ${rec.result.toUpperCase()}`,
    '',
    `- workflow: ${rec.workflowId}`,
    `- from ${rec.startedAt} to ${rec.completedAt}: RTO ${rec.rtoSeconds.toFixed(1)} s${rec.targets.rtoSeconds !== null ? ` (target ${rec.targets.rtoSeconds} s)` : ''}`,
    `- database restore point: ${rec.restorePoint.id} (${rec.restorePoint.verification})${rec.restorePoint.pitrTarget ? `, replayed to ${rec.restorePoint.pitrTarget}` : ''}`,
    ...(rec.breaches.length ? ['', '## Breaches', '', ...rec.breaches.map((b) => `- ${b}`)] : []),
    '',
    '## Steps',
    '',
    '| # | step | result | seconds | detail |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    '## Checks',
    '',
    ...(checks.length ? checks : ['- none']),
    '',
  ].join('\n');
}
