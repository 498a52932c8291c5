// galeraClusterRestoreWorkflow's decisions on an ephemeral Temporal dev server, for the cases the
// shared lab cluster must not be put through: a bootstrap that fails (every node left stopped),
// a joiner that never syncs, a cloud that is not a cluster, and the approval gate holding every
// node untouched until a signal. The activities are stand-ins (named so) that keep a set of
// running nodes; the real path runs against the lab in galera-restore.test.ts.
import { fileURLToPath } from 'node:url';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import type { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { ArtifactManifest, DbFacts } from '../../core/manifest/manifest.js';
import type { ClusterRestoreSettings } from '../../core/galera/restore-plan.js';
import type { Progress } from '../../workflows/messages.js';
import type { GaleraClusterRestoreResult } from '../../workflows/galera-restore.js';
import { CLOUD, COMPONENT, PHASE, TIER } from '../../workflows/search-attributes.js';

const temporalCli = process.env.OSBACKUP_TEMPORAL_CLI ?? '.dev/venv/bin/temporal';
let env: TestWorkflowEnvironment;

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporalCli },
      searchAttributes: [CLOUD, COMPONENT, TIER, PHASE],
    },
  });
});
afterAll(async () => {
  await env?.teardown();
});

const NODES = ['g1', 'g2', 'g3'];
const settings: ClusterRestoreSettings = {
  nodes: NODES,
  commands: Object.fromEntries(
    NODES.map((h) => [
      h,
      {
        start: `start-${h}`,
        stop: `stop-${h}`,
        bootstrap: h === 'g3' ? null : `bootstrap-${h}`,
        datadir: `/data/${h}`,
      },
    ]),
  ),
};
const tables = [{ table: 'nova.instances', rows: 100, checksum: '1', stable: true }];
const manifest = {
  id: 'db-full-20261206T000000Z',
  cloud: 'gc',
  kind: 'full',
  mariadb: { checkpoints: { toLsn: '100' } },
  tables,
  galera: { clusterUuid: '11111111-2222-3333-4444-555555555555', seqno: 42, donor: 'g2' },
} as unknown as ArtifactManifest;
const facts: DbFacts = { serverVersion: 'x', tables: [{ table: 'nova.instances', rows: 100, checksum: '1' }] };
const fail = (message: string) =>
  ApplicationFailure.create({ type: 'MariadbRestoreFailed', message, nonRetryable: true });

/** Stand-ins: `running` is the cluster as the nodes' servers would report it. */
function standIns(opts: { galera?: boolean; failBootstrap?: boolean; failJoin?: string }) {
  const running = new Set(NODES);
  const calls: string[] = [];
  const noop = (name: string) => async (i: { host?: string; targetHost?: string }) => (
    calls.push(`${name} ${i.host ?? i.targetHost ?? ''}`.trim()),
    { seconds: 0, bytes: 0, restoreDir: '/x', asideDir: null, applied: [] }
  );
  const acts = {
    galeraRestoreSettings: async () => (opts.galera === false ? null : settings),
    repositoryPlanRestore: async () => [manifest],
    galeraInspect: async () =>
      NODES.map((host) =>
        running.has(host)
          ? {
              host,
              reachable: true,
              state: 'Synced',
              localState: 4,
              clusterStatus: 'Primary',
              clusterSize: running.size,
            }
          : { host, reachable: false },
      ),
    mariadbStopServer: async ({ host }: { host: string }) => void (calls.push(`stop ${host}`), running.delete(host)),
    mariadbRestoreStream: noop('stream'),
    mariadbPrepareChain: noop('prepare'),
    mariadbCopyBack: noop('copyBack'),
    mariadbRemoveRestoreDir: noop('cleanup'),
    galeraWriteBootstrapState: async ({
      host,
      position,
    }: {
      host: string;
      position: { clusterUuid: string; seqno: number };
    }) => void calls.push(`grastate ${host} ${position.clusterUuid}:${position.seqno}`),
    mariadbStartServer: async ({ host, bootstrap }: { host: string; bootstrap?: boolean }) => {
      calls.push(`${bootstrap ? 'bootstrap' : 'start'} ${host}`);
      if (opts.failBootstrap) throw fail(`start MariaDB (bootstrap-${host}) exited 1 on ${host}`);
      running.add(host);
    },
    mariadbCollectFacts: async () => facts,
    repositoryWriteVerification: async () => ({ path: 'x' }),
    galeraWipeNode: async ({ host }: { host: string }) => void calls.push(`wipe ${host}`),
    galeraStartJoiner: async ({ host }: { host: string }) => {
      calls.push(`join ${host}`);
      if (opts.failJoin === host) throw fail(`${host} did not reach Synced within 1 s`);
      running.add(host);
      return { seconds: 1 };
    },
  };
  return { acts, calls, running };
}

async function withWorker<T>(acts: object, body: (taskQueue: string) => Promise<T>): Promise<T> {
  const taskQueue = `gr-${Math.random().toString(36).slice(2)}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowsPath: fileURLToPath(new URL('../../dist/workflows/index.js', import.meta.url)),
    activities: acts,
  });
  return worker.runUntil(body(taskQueue));
}

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  const e = await p.then(
    () => null,
    (x: unknown) => x as WorkflowFailedError,
  );
  expect(e).not.toBeNull();
  return e!.cause as ApplicationFailure;
}

test('nothing is stopped before approval; approved, the cluster is rebuilt in order and verified', async () => {
  const { acts, calls } = standIns({});
  const r = await withWorker(acts, async (taskQueue) => {
    const h = await env.client.workflow.start('galeraClusterRestoreWorkflow', {
      taskQueue,
      workflowId: `gr-ok-${taskQueue}`,
      args: [{ cloud: 'gc' }],
    });
    for (let i = 0; i < 50 && !(await h.query('summary')); i++) await new Promise((res) => setTimeout(res, 100));
    expect(await h.query('summary')).toMatchObject({
      bootstrap: 'g1',
      joiners: ['g2', 'g3'],
      position: { clusterUuid: manifest.galera!.clusterUuid, seqno: 42 },
      donor: 'g2',
    });
    await new Promise((res) => setTimeout(res, 500));
    expect(calls).toEqual([]); // waiting for approval: no node touched
    const p = await h.query<Progress>('progress');
    expect(p.phase).toBe('approval');
    expect(p.nodes).toEqual([
      { host: 'g1', role: 'bootstrap', state: 'running' },
      { host: 'g2', role: 'joiner', state: 'running' },
      { host: 'g3', role: 'joiner', state: 'running' },
    ]);
    await h.signal('approve');
    const res = (await h.result()) as GaleraClusterRestoreResult;
    expect((await h.query<Progress>('progress')).nodes!.map((n) => n.state)).toEqual([
      'bootstrapped',
      'synced',
      'synced',
    ]);
    return res;
  });
  expect(calls.filter((c) => !c.startsWith('cleanup'))).toEqual([
    'stop g2',
    'stop g3',
    'stop g1',
    'stream g1',
    'prepare g1',
    'stop g1',
    'copyBack g1',
    `grastate g1 ${manifest.galera!.clusterUuid}:42`,
    'bootstrap g1',
    'wipe g2',
    'join g2',
    'wipe g3',
    'join g3',
  ]);
  expect(r.outcome).toBe('restored');
  expect(r.nodes.map((n) => [n.host, n.clusterSize, n.localState, n.tables[0]!.outcome])).toEqual([
    ['g1', 3, 4, 'equal'],
    ['g2', 3, 4, 'equal'],
    ['g3', 3, 4, 'equal'],
  ]);
});

test('a plan nobody decides ends as rejected when the approval timeout passes, no node touched', async () => {
  const { acts, calls } = standIns({});
  const r = await withWorker(
    acts,
    (taskQueue) =>
      env.client.workflow.execute('galeraClusterRestoreWorkflow', {
        taskQueue,
        workflowId: `gr-timeout-${taskQueue}`,
        args: [{ cloud: 'gc', approvalTimeoutSeconds: 2 }],
      }) as Promise<GaleraClusterRestoreResult>,
  );
  expect(r.outcome).toBe('rejected');
  expect(r.rejectReason).toMatch(/^no decision within 2 s \(the approval timeout\): nothing was changed/);
  expect(calls).toEqual([]);
});

test('a failed bootstrap: every node is named as stopped, with the bootstrap command first, and no joiner is wiped', async () => {
  const { acts, calls } = standIns({ failBootstrap: true });
  const f = await withWorker(acts, (taskQueue) =>
    failureOf(
      env.client.workflow.execute('galeraClusterRestoreWorkflow', {
        taskQueue,
        workflowId: `gr-boot-${taskQueue}`,
        args: [{ cloud: 'gc', approved: true }],
      }),
    ),
  );
  expect(f.type).toBe('GaleraRestoreFailed');
  expect(f.message).toMatch(/^cluster restore of gc stopped: .*bootstrap-g1\) exited 1 on g1/);
  expect(f.message).toMatch(
    /not running: g1, g2, g3\. start g1 first as a new cluster: `bootstrap-g1`.*then g2: `start-g2`; g3: `start-g3`/,
  );
  expect(calls.some((c) => c.startsWith('wipe'))).toBe(false);
});

test('a joiner that never syncs: only it is named, the cluster runs on the others', async () => {
  const { acts, calls } = standIns({ failJoin: 'g3' });
  const f = await withWorker(acts, (taskQueue) =>
    failureOf(
      env.client.workflow.execute('galeraClusterRestoreWorkflow', {
        taskQueue,
        workflowId: `gr-join-${taskQueue}`,
        args: [{ cloud: 'gc', approved: true }],
      }),
    ),
  );
  expect(f.type).toBe('GaleraRestoreFailed');
  expect(f.message).toMatch(/g3 did not reach Synced within 1 s\. not running: g3\. then g3: `start-g3`/);
  expect(f.message).not.toMatch(/bootstrap-g1/);
  expect(calls).toContain('join g2');
});

test('a cloud that is not a cluster, or a node without a bootstrap command, is refused before anything is touched', async () => {
  const one = standIns({ galera: false });
  const f = await withWorker(one.acts, (taskQueue) =>
    failureOf(
      env.client.workflow.execute('galeraClusterRestoreWorkflow', {
        taskQueue,
        workflowId: `gr-single-${taskQueue}`,
        args: [{ cloud: 'single', approved: true }],
      }),
    ),
  );
  expect(f.type).toBe('ConfigInvalid');
  expect(f.message).toMatch(
    /cloud single is not a Galera cluster.*Fix: restore a single server with `osbackup restore db --to <host>`/,
  );
  const three = standIns({});
  const g = await withWorker(three.acts, (taskQueue) =>
    failureOf(
      env.client.workflow.execute('galeraClusterRestoreWorkflow', {
        taskQueue,
        workflowId: `gr-g3-${taskQueue}`,
        args: [{ cloud: 'gc', bootstrap: 'g3', approved: true }],
      }),
    ),
  );
  expect(g.message).toMatch(/g3 has no bootstrap command/);
  expect([...one.calls, ...three.calls]).toEqual([]);
});
