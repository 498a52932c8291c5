import { drSchema, KOLLA_DR_COMMANDS } from '../../config/dr-schema.js';
import { parseConfig } from '../../config/load.js';
import {
  childWorkflowId,
  DR_STEP_NAMES,
  emptyJournal,
  journalBegin,
  journalEnd,
  parseJournal,
  planRebuild,
  rebuildRecord,
  rebuildReport,
  runIdOf,
  stateBefore,
  substituteCommand,
  type DrCapabilities,
} from '../../core/dr/rebuild-plan.js';
import { parseDrillRecord } from '../../core/dr/record.js';
import { cloudYaml, configProblems, configYaml } from '../helpers/config-fixture.js';

const full: DrCapabilities = { kolla: true, keystoneHosts: ['ctl1', 'ctl2'], openstack: true };
const T = (s: string) => `2026-12-06T10:${s}Z`;

describe('the rebuild plan', () => {
  test('the order that works on Kolla: configs before bootstrap, MariaDB deployed before the database restore, services after it, keys after their deploy', () => {
    expect(DR_STEP_NAMES).toEqual([
      'restore-configs',
      'approve-deploy',
      'bootstrap-servers',
      'deploy-mariadb',
      'approve-database',
      'restore-database',
      'deploy-services',
      'restore-fernet-keys',
      'verify-services',
      'restore-resources',
      'verify-user-data',
    ]);
    const p = planRebuild(full, { approved: false });
    expect(p.every((s) => s.action === 'run')).toBe(true);
  });

  test('--yes skips both gates and nothing else', () => {
    const p = planRebuild(full, { approved: true });
    expect(p.filter((s) => s.action === 'skip').map((s) => s.name)).toEqual(['approve-deploy', 'approve-database']);
    expect(p.find((s) => s.name === 'approve-deploy')!.reason).toMatch(/--yes/);
  });

  test('a step the config gives nothing to do is skipped and says why', () => {
    const p = planRebuild({ kolla: false, keystoneHosts: [], openstack: false }, { approved: false });
    const skipped = Object.fromEntries(p.filter((s) => s.action === 'skip').map((s) => [s.name, s.reason]));
    expect(Object.keys(skipped)).toEqual([
      'restore-configs',
      'restore-fernet-keys',
      'verify-services',
      'restore-resources',
      'verify-user-data',
    ]);
    expect(skipped['restore-configs']).toMatch(/controlPlane\.kolla/);
    expect(
      planRebuild(full, { approved: false, skipResources: true }).find((s) => s.name === 'restore-resources')!.action,
    ).toBe('skip');
  });

  test('a rerun of the same run id skips what its journal records as done, and redoes a failed step', () => {
    let j = emptyJournal('c', 'r1', 'dr-rebuild:c:r1');
    for (const n of ['restore-configs', 'approve-deploy', 'bootstrap-servers'] as const)
      j = journalEnd(journalBegin(j, n, T('00:00')), n, T('01:00'), 'done');
    j = journalEnd(journalBegin(j, 'deploy-mariadb', T('01:00')), 'deploy-mariadb', T('02:00'), 'failed', {
      detail: 'exit 2',
    });
    const p = planRebuild(full, { approved: false, journal: j });
    expect(p.filter((s) => s.action === 'skip').map((s) => s.name)).toEqual([
      'restore-configs',
      'approve-deploy',
      'bootstrap-servers',
    ]);
    expect(p.find((s) => s.name === 'bootstrap-servers')!.reason).toMatch(/earlier in this run \(r1\)/);
    expect(p.find((s) => s.name === 'deploy-mariadb')!.action).toBe('run');
  });
});

describe('the step journal', () => {
  test('counts executions and launches, keeps timings, survives a round trip; torn text is null', () => {
    let j = emptyJournal('c', 'r1', 'w');
    j = journalBegin(j, 'deploy-services', T('00:00'));
    j = journalEnd(j, 'deploy-services', T('00:30'), 'failed', { launches: 1 });
    j = journalBegin(j, 'deploy-services', T('05:00'));
    j = journalEnd(j, 'deploy-services', T('06:00'), 'done', { launches: 1, detail: 'ok' });
    const s = j.steps.find((x) => x.name === 'deploy-services')!;
    expect(s).toMatchObject({
      state: 'done',
      executions: 2,
      launches: 2,
      seconds: 60,
      detail: 'ok',
      startedAt: T('05:00'),
    });
    expect(parseJournal(JSON.stringify(j))).toEqual(j);
    expect(parseJournal('{"formatVersion":1,"runId":"r1","steps":[')).toBeNull();
    expect(parseJournal('{"formatVersion":2,"runId":"r1","steps":[]}')).toBeNull();
  });

  test('a re-attached command adds no launch; facts carry over to later entries', () => {
    let j = journalEnd(
      journalBegin(emptyJournal('c', 'r', 'w'), 'restore-database', T('00:00')),
      'restore-database',
      T('01:00'),
      'done',
      { facts: { backupId: 'db-full-1', verification: 'VERIFIED', pitrTarget: null } },
    );
    expect(j.steps[0]!.facts).toEqual({ backupId: 'db-full-1', verification: 'VERIFIED', pitrTarget: null });
    j = journalEnd(journalBegin(j, 'deploy-mariadb', T('00:00')), 'deploy-mariadb', T('00:10'), 'done', {
      launches: 0,
    });
    expect(j.steps.find((x) => x.name === 'deploy-mariadb')!.launches).toBe(0);
  });
});

describe('deploy commands', () => {
  test('{configDir} and {inventory} are substituted inside arguments', () => {
    expect(substituteCommand(KOLLA_DR_COMMANDS.deployMariadb, { configDir: '/etc/kolla/' })).toEqual({
      argv: ['kolla-ansible', '-i', '/etc/kolla/inventory', 'deploy', '--tags', 'mariadb'],
    });
    expect(
      substituteCommand(['/lab/openstack.sh', 'deploy-services', '{configDir}', '--x={configDir}/globals.yml'], {
        configDir: '/lab/os1-kolla',
      }),
    ).toEqual({ argv: ['/lab/openstack.sh', 'deploy-services', '/lab/os1-kolla', '--x=/lab/os1-kolla/globals.yml'] });
  });

  test('an unknown placeholder, or {configDir} without a Kolla section, is a problem naming it', () => {
    expect(substituteCommand(['x', '{confDir}'], { configDir: '/etc/kolla' })).toEqual({
      problem: expect.stringMatching(/unknown placeholder \{confDir\}/),
    });
    expect(substituteCommand(['x', '{inventory}'], { configDir: null })).toEqual({
      problem: expect.stringMatching(/\{inventory\} needs controlPlane\.kolla/),
    });
    expect(substituteCommand(['kolla-ansible', 'deploy'], { configDir: null })).toEqual({
      argv: ['kolla-ansible', 'deploy'],
    });
  });

  test('the config section: Kolla defaults, argument arrays only, validated with the rest of the cloud', () => {
    expect(drSchema.parse({})).toEqual({
      runOn: 'worker',
      commands: KOLLA_DR_COMMANDS,
      stepTimeoutMinutes: 120,
      verifyTimeoutMinutes: 10,
    });
    expect(drSchema.safeParse({ commands: { deployServices: 'kolla-ansible deploy' } }).success).toBe(false);
    expect(drSchema.safeParse({ commands: { deployServices: [] } }).success).toBe(false);
    const c = parseConfig(
      configYaml(
        cloudYaml(
          'prod',
          '    dr: { runOn: ctl1, rtoTargetMinutes: 30, commands: { deployServices: [kolla-ansible, -i, "{inventory}", deploy] } }\n',
        ),
      ),
    );
    expect(c.clouds.prod!.dr).toMatchObject({
      runOn: 'ctl1',
      rtoTargetMinutes: 30,
      commands: { bootstrapServers: KOLLA_DR_COMMANDS.bootstrapServers },
    });
    expect(configProblems(configYaml(cloudYaml('prod', '    dr: { runon: ctl1 }\n')))).toHaveProperty([
      'clouds.prod.dr',
    ]);
  });
});

describe('identifiers and where a stopped run left the cloud', () => {
  test('run ids from workflow ids, children ids derived from the parent', () => {
    expect(runIdOf('dr-rebuild:os:20261206-1000', 'os')).toBe('20261206-1000');
    expect(runIdOf('my rebuild/from the UI', 'os')).toBe('my-rebuild-from-the-UI');
    expect(childWorkflowId('dr-rebuild:os:r', 'restore-resources', 'image', 'abc')).toBe(
      'dr-rebuild:os:r:restore-resources:image:abc',
    );
  });

  test('each gate names the state the cloud is in', () => {
    expect(stateBefore('restore-configs')).toBe('nothing was changed');
    expect(stateBefore('approve-deploy')).toMatch(/config tree is restored.*nothing was bootstrapped or deployed/);
    expect(stateBefore('approve-database')).toMatch(/MariaDB is deployed.*database was NOT restored/);
  });
});

describe('the rebuild record', () => {
  const steps = [
    { name: 'restore-configs', startedAt: T('00:00'), completedAt: T('00:10'), seconds: 10, result: 'ok' as const },
    { name: 'restore-database', startedAt: T('00:10'), completedAt: T('01:40'), seconds: 90, result: 'ok' as const },
  ];
  const rp = {
    id: 'db-full-1',
    component: 'database',
    completedAt: T('00:00'),
    verification: 'VERIFIED',
    pitrTarget: null,
  };

  test('RTO from the first start to the last end; passed without a target', () => {
    const r = rebuildRecord({
      runId: 'r',
      cloud: 'c',
      workflowId: 'w',
      steps,
      restorePoint: rp,
      rtoTargetSeconds: null,
      checks: [{ name: 'token', ok: true }],
    });
    expect(r).toMatchObject({ kind: 'rebuild', rtoSeconds: 100, rpoSeconds: null, result: 'passed', breaches: [] });
    expect(parseDrillRecord(JSON.stringify(r))).toEqual(r);
    expect(rebuildReport(r)).toMatch(/RTO 100\.0 s/);
  });

  test('a target below the RTO, a failed step or a failed check fail it with a sentence each', () => {
    const r = rebuildRecord({
      runId: 'r',
      cloud: 'c',
      workflowId: 'w',
      steps: [
        ...steps,
        {
          name: 'deploy-services',
          startedAt: T('01:40'),
          completedAt: T('01:41'),
          seconds: 1,
          result: 'failed',
          detail: 'exit 2',
        },
      ],
      restorePoint: rp,
      rtoTargetSeconds: 60,
      checks: [{ name: 'image x readable', ok: false, actual: 'not listed' }],
    });
    expect(r.result).toBe('failed');
    expect(r.breaches).toEqual([
      'RTO 101.0 s exceeds the target 60 s',
      'step deploy-services failed: exit 2',
      'check failed: image x readable (not listed)',
    ]);
  });
});
