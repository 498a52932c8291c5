// The full rebuild (drRebuildWorkflow) on the lab's OpenStack cloud os1: backups (database,
// control plane, the image), `openstack.sh wipe` (the control-plane host and the deploy host's
// Kolla tree are lost; volumes on external storage stay), then `osbackup dr rebuild --yes` with
// the worker SIGKILLed once during each step in turn (kill, restart, wait for the next step, kill,
// …). The run must complete with the same data, a token issued before the wipe validating on the
// rebuilt Keystone (the restored Fernet keys), the image back (its bytes were on the lost host)
// and the volume present — and no step with side effects done twice (step journal, job launches,
// one execution per child workflow id). A separate short test: a rejected approval stops the run
// cleanly and says where. os1 is left up (other tests use it).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { parse } from 'yaml';
import { loadCredentials } from '../../activities/openstack/credentials.js';
import { OpenStackSession } from '../../activities/openstack/session.js';
import { glance, VOLUME_MICROVERSION } from '../../activities/openstack/api.js';
import type { DrRebuildResult } from '../../workflows/dr-rebuild.js';
import { drJournalKey, parseJournal, type DrJournal } from '../../core/dr/rebuild-plan.js';
import { drillRecordKey, parseDrillRecord } from '../../core/dr/record.js';
import type { Progress } from '../../workflows/messages.js';
import {
  cli,
  configWithOwnRepo,
  labDir,
  liveFacts,
  ROOT,
  startWorker,
  stepTimer,
  temporalClient,
  type WorkerProcess,
} from '../helpers/lab.js';
import { createVolume, uploadImage, waitVolumes } from '../helpers/openstack.js';

const HOST = 'os1';
const lab = labDir();
const D = join(lab, HOST);
const TREE = join(lab, `${HOST}-kolla`);
const script = join(ROOT, 'test/lab/openstack.sh');
// the worker runs the phase commands: they find the lab through LAB_DIR
process.env.LAB_DIR = lab;
const phase = (cmd: string, ...args: string[]) =>
  execa(script, [cmd, ...args], { env: { LAB_DIR: lab }, reject: false, all: true, timeout: 600_000 });
const tag = `dr-rebuild-${process.pid}`;
const T0 = Date.now();
// OSB_DR_KILL=0: no kills, for the rebuild's own RTO (the figure in docs/dr-rebuild.md)
const KILL = process.env.OSB_DR_KILL !== '0';

let cfg: ReturnType<typeof configWithOwnRepo>;
let worker: WorkerProcess | undefined;
let authUrl = '';
const ids = { image: '', volume: '' };
let imageHash = '';
const { timings, timed } = stepTimer();

const session = () =>
  new OpenStackSession(loadCredentials({ cloudsYaml: join(D, 'clouds.yaml'), cloud: 'osb-lab' }, {}));
const adminPassword = () => /OS_PASSWORD=(\S+)/.exec(readFileSync(join(TREE, 'admin-openrc.sh'), 'utf8'))![1]!;
const osb = async (...args: string[]) => {
  const r = await cli(cfg.configFile, ['--json', ...args, '--cloud', 'openstack']);
  if (r.exitCode !== 0) throw new Error(`osbackup ${args.join(' ')} exited ${r.exitCode}: ${r.stderr}\n${r.stdout}`);
  return JSON.parse(r.stdout);
};

async function token(): Promise<string> {
  const res = await fetch(`${authUrl}/auth/tokens`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: 'admin', domain: { name: 'Default' }, password: adminPassword() } },
        },
        scope: { project: { name: 'admin', domain: { name: 'Default' } } },
      },
    }),
  });
  if (res.status !== 201) throw new Error(`Keystone issued no token: HTTP ${res.status}`);
  return res.headers.get('x-subject-token')!;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  // a cloud brought up by an older checkout's script (no tree on ctl3) is brought up anew first (~2.5 min, once)
  if (!existsSync(join(TREE, 'globals.yml')) || (await phase('status')).exitCode !== 0) {
    const up = await timed('openstack.sh up (old lab)', () => phase('up'));
    if (up.exitCode !== 0) throw new Error(`openstack.sh up failed:\n${up.all}`);
  }
  const fragment = parse(readFileSync(join(D, 'cloud.yml'), 'utf8')) as { openstack: Record<string, any> };
  authUrl = `http://${fragment.openstack.hosts[HOST].address}:5000/v3`;
  cfg = configWithOwnRepo('dr-rebuild', (c) => {
    c.clouds.openstack = fragment.openstack;
    c.clouds.openstack.dr = {
      runOn: 'worker',
      commands: {
        bootstrapServers: [script, 'bootstrap-servers', '{configDir}'],
        deployMariadb: [script, 'deploy-mariadb', '{configDir}'],
        deployServices: [script, 'deploy-services', '{configDir}'],
      },
      stepTimeoutMinutes: 10,
      verifyTimeoutMinutes: 4,
    };
    // this test's image only (the shared cloud may hold others')
    c.clouds.openstack.openstack.images = { name: tag };
  });
  worker = await startWorker(cfg.configFile);
  const s = session();
  ids.image = await uploadImage(s, tag, randomBytes(192 * 1024));
  imageHash = (await glance.getImage(s, ids.image))!.os_hash_value!;
  ids.volume = await createVolume(s, tag, { test: 'dr-rebuild' });
  await waitVolumes(s, [ids.volume], 'available');
}, 600_000);

afterAll(async () => {
  await worker?.stop('SIGKILL');
  // os1 is shared: left up whatever happened above (a fresh one when the rebuild did not finish)
  if ((await phase('status')).exitCode !== 0) await phase('up');
  else {
    const s = session();
    await s
      .request('volume', 'DELETE', `/volumes/${ids.volume}`, { microversion: VOLUME_MICROVERSION, accept: [404, 400] })
      .catch(() => undefined);
    for (const img of await glance.listImages(s, { name: tag }).catch(() => []))
      await glance.deleteImage(s, img.id).catch(() => undefined);
  }
  console.log(
    `dr-rebuild timings (s): ${JSON.stringify(timings)}; whole file ${((Date.now() - T0) / 1000).toFixed(0)} s`,
  );
}, 600_000);

test('a rejected approval stops the rebuild at its gate, says where and in what state the cloud is; nothing is deployed', async () => {
  await osb('backup', 'control-plane');
  const { client, close } = await temporalClient(cfg.configFile);
  try {
    const started = await osb('dr', 'rebuild', '--run', `reject-${process.pid}`, '--skip-resources', '--no-wait');
    const h = client.workflow.getHandle(started.workflowId);
    for (let i = 0; ; i++) {
      const p = await h.query<Progress>('progress').catch(() => null);
      if (p?.phase === 'approve-deploy') break;
      if (i > 600) throw new Error(`never reached the gate: ${JSON.stringify(p)}`);
      await sleep(100);
    }
    const rej = await cli(cfg.configFile, [
      'dr',
      'reject',
      `reject-${process.pid}`,
      '--cloud',
      'openstack',
      '--reason',
      'not today',
    ]);
    expect(rej.exitCode).toBe(0);
    const r = (await h.result()) as DrRebuildResult;
    expect(r).toMatchObject({
      outcome: 'rejected',
      stoppedAt: 'approve-deploy',
      rejectReason: 'not today',
      recordPath: null,
    });
    expect(r.cloudState).toMatch(/nothing was bootstrapped or deployed/);
    // the intact tree equals the backup: its restore was a no-op, and nothing after the gate ran
    expect(r.steps.map((s) => `${s.name}:${s.result}`)).toEqual(['restore-configs:ok', 'approve-deploy:failed']);
    expect(r.steps[0]!.detail).toMatch(/already equals/);
    const j = parseJournal(readFileSync(join(cfg.repo, drJournalKey('openstack', `reject-${process.pid}`)), 'utf8'))!;
    expect(j.steps.find((s) => s.name === 'approve-deploy')).toMatchObject({
      state: 'rejected',
      detail: 'rejected: not today',
    });
    expect(j.steps.map((s) => s.name)).not.toContain('bootstrap-servers');
    expect((await phase('status')).exitCode).toBe(0);
  } finally {
    await close();
  }
}, 120_000);

test('rebuilt from backups alone with the worker SIGKILLed during each step: same data, the old token validates, image and volume back, no side effect twice', async () => {
  // 1. backups: database (full), control plane (ctl3's tree + os1's keys), the image's bytes
  const db = await timed('backup db', () => osb('backup', 'db', '--full', '--wait'));
  await timed('backup control-plane', () => osb('backup', 'control-plane'));
  const ex = await timed('backup images', () => osb('backup', 'images'));
  expect(ex.exported.map((x: { imageId: string }) => x.imageId)).toEqual([ids.image]);
  const oldToken = await token();
  const tables = ['keystone.project', 'keystone.user', 'glance.images', 'cinder.volumes', 'nova.instances'];
  const before = await liveFacts(HOST, tables);

  // 2. the control-plane host and the deploy host's tree are lost
  await timed('wipe', async () => expect((await phase('wipe')).exitCode).toBe(0));
  expect(existsSync(TREE)).toBe(false);

  // 3. the rebuild, the worker killed once in each step it reaches
  const run = `kill-${process.pid}`;
  const { client, close } = await temporalClient(cfg.configFile);
  const killedIn: string[] = [];
  let r: DrRebuildResult;
  try {
    const started = await osb('dr', 'rebuild', '--run', run, '--yes', '--no-wait');
    const h = client.workflow.getHandle(started.workflowId);
    const result = h.result() as Promise<DrRebuildResult>;
    let done = false;
    void result.finally(() => (done = true)).catch(() => undefined);
    const t0 = Date.now();
    while (!done && Date.now() - t0 < 420_000) {
      const p = await h.query<Progress>('progress').catch(() => null);
      const running = p?.steps.find((s) => s.state === 'running')?.name;
      if (KILL && running && !killedIn.includes(running)) {
        // a moment into the step, so its work (not the journal write before it) is what the kill interrupts
        await sleep(running === 'deploy-services' || running === 'restore-database' ? 3000 : 300);
        killedIn.push(running);
        await worker!.stop('SIGKILL');
        worker = await startWorker(cfg.configFile);
      }
      await sleep(100);
    }
    r = await result;
  } finally {
    await close();
  }
  console.log(
    `dr-rebuild: worker killed during ${killedIn.join(', ')}; RTO ${r.rtoSeconds?.toFixed(1)} s; steps ${r.steps.map((s) => `${s.name} ${s.seconds.toFixed(1)}s`).join(', ')}`,
  );
  expect(r.outcome).toBe('completed');
  // every step with work of its own was interrupted at least once (a fast one may end before the kill lands in it)
  if (KILL) {
    expect(killedIn).toEqual(
      expect.arrayContaining([
        'restore-configs',
        'bootstrap-servers',
        'deploy-mariadb',
        'restore-database',
        'deploy-services',
      ]),
    );
    expect(killedIn.length).toBeGreaterThanOrEqual(7);
  }

  // 4. same data: the restore was VERIFIED against the backup's facts, and the live tables match what they were
  expect(r.database).toMatchObject({ backupId: db.backupId, verification: 'VERIFIED' });
  const after = await liveFacts(HOST, tables);
  for (const t of ['keystone.project', 'keystone.user', 'cinder.volumes', 'nova.instances'])
    expect({ t, ...after[t] }).toEqual({ t, ...before[t] });

  // 5. the rebuilt Keystone validates a token the lost one issued (the restored Fernet keys) and issues new ones
  const fresh = await token();
  expect(
    (await fetch(`${authUrl}/auth/tokens`, { headers: { 'X-Auth-Token': fresh, 'X-Subject-Token': oldToken } })).status,
  ).toBe(200);
  expect(r.token?.catalog).toEqual(expect.arrayContaining(['identity', 'image', 'compute']));

  // 6. the image's bytes were on the lost host: re-imported from its export with the same hash; the volume is there
  const s = session();
  expect(r.resources!.imagesReimported.map((x) => x.exportId)).toEqual([ids.image]);
  const back = await glance.getImage(s, r.resources!.imagesReimported[0]!.imageId);
  expect(back).toMatchObject({ status: 'active', os_hash_value: imageHash });
  expect(r.resources!.volumesPresent).toContain(ids.volume);
  expect(r.checks.filter((c) => !c.ok)).toEqual([]);

  // 7. no side effect twice: each step begun once (journal), each deploy command launched once, one execution per child id
  const j: DrJournal = parseJournal(readFileSync(join(cfg.repo, drJournalKey('openstack', run)), 'utf8'))!;
  expect(j.steps.filter((x) => x.state !== 'skipped').map((x) => [x.name, x.state, x.executions])).toEqual(
    [
      'restore-configs',
      'bootstrap-servers',
      'deploy-mariadb',
      'restore-database',
      'deploy-services',
      'restore-fernet-keys',
      'verify-services',
      'restore-resources',
      'verify-user-data',
    ].map((n) => [n, 'done', 1]),
  );
  expect(
    j.steps
      .filter((x) => ['bootstrap-servers', 'deploy-mariadb', 'deploy-services'].includes(x.name))
      .map((x) => x.launches),
  ).toEqual([1, 1, 1]);
  const raw = parse(readFileSync(cfg.configFile, 'utf8')) as { stateDir: string };
  const jobsRoot = join(raw.stateDir, 'dr-jobs', 'openstack', run);
  for (const exec of readdirSync(jobsRoot))
    for (const st of readdirSync(join(jobsRoot, exec)))
      expect({
        st,
        launches: readFileSync(join(jobsRoot, exec, st, 'launches'), 'utf8')
          .trim()
          .split('\n').length,
      }).toEqual({ st, launches: 1 });
  const { client: c2, close: close2 } = await temporalClient(cfg.configFile);
  try {
    const children: Record<string, number> = {};
    for (const step of [
      'restore-configs',
      'restore-database',
      'restore-fernet-keys',
      `restore-resources:image:${ids.image}`,
    ]) {
      const id = `${started(run)}:${step}`;
      children[step] = 0;
      for await (const w of c2.workflow.list({ query: `WorkflowId = "${id}"` }))
        children[step] += w.workflowId === id ? 1 : 0;
    }
    expect(children).toEqual({
      'restore-configs': 1,
      'restore-database': 1,
      'restore-fernet-keys': 1,
      [`restore-resources:image:${ids.image}`]: 1,
    });
  } finally {
    await close2();
  }

  // 8. the record: kind rebuild, steps with timings, RTO
  const rec = parseDrillRecord(readFileSync(join(cfg.repo, drillRecordKey('openstack', run)), 'utf8'))!;
  expect(rec).toMatchObject({ kind: 'rebuild', result: 'passed', rtoSeconds: r.rtoSeconds });
  expect(rec.steps.map((x) => x.name)).toContain('deploy-services');
  expect((await phase('status')).exitCode).toBe(0);
}, 600_000);

const started = (run: string) => `dr-rebuild:openstack:${run}`;
