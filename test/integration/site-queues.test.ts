// Two sites, two workers: each cloud on a task queue of its own, each worker serving one cloud
// (`osbackup worker --cloud`). A cloud's run, its children and every activity of them are taken
// only by that cloud's worker; a run of no cloud (the catalog of every cloud) by either.
import { execa } from 'execa';
import { cli, deriveConfig, onlyClouds, startWorker, temporalClient, type WorkerProcess } from '../helpers/lab.js';

const pid = process.pid;
const queue = { central: `test-sites-${pid}`, lab: `site-a-${pid}`, kolla: `site-b-${pid}` };
const configFile = deriveConfig('sites', (c) => {
  // two sites only: a third cloud left on the default queue (the lab's OpenStack) would take
  // that queue from both workers, as a cloud neither of them serves
  onlyClouds(c, 'lab', 'kolla');
  c.temporal.taskQueue = queue.central;
  c.clouds.lab.taskQueue = queue.lab;
  c.clouds.kolla.taskQueue = queue.kolla;
});
const workers: Record<'lab' | 'kolla', WorkerProcess | undefined> = { lab: undefined, kolla: undefined };

beforeAll(async () => {
  [workers.lab, workers.kolla] = await Promise.all([
    startWorker(configFile, { args: ['--cloud', 'lab'] }),
    startWorker(configFile, { args: ['--cloud', 'kolla'] }),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([workers.lab?.stop(), workers.kolla?.stop()]);
});

test('each worker polls its cloud’s queue and the default one (no other cloud is on it)', () => {
  expect(workers.lab!.output()).toMatch(`task queues ${queue.central}, ${queue.lab} (clouds lab)`);
  expect(workers.kolla!.output()).toMatch(`task queues ${queue.central}, ${queue.kolla} (clouds kolla)`);
});

test("a backup of each cloud runs on its cloud's queue, every task of it on that cloud's worker", async () => {
  const { client, close } = await temporalClient(configFile);
  try {
    const runs = await Promise.all(
      (['lab', 'kolla'] as const).map(async (cloud) => {
        const r = await cli(configFile, ['--json', 'backup', 'db', '--cloud', cloud, '--wait']);
        expect(r.stderr).not.toMatch(/error/i);
        expect(r.exitCode).toBe(0);
        return { cloud, workflowId: (JSON.parse(r.stdout) as { workflowId: string }).workflowId };
      }),
    );
    for (const { cloud, workflowId } of runs) {
      const handle = client.workflow.getHandle(workflowId);
      expect((await handle.describe()).taskQueue).toBe(queue[cloud]);
      const events = (await handle.fetchHistory()).events ?? [];
      const activities = events.filter((e) => e.activityTaskStartedEventAttributes);
      const scheduled = events.flatMap((e) =>
        e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.taskQueue!.name!] : [],
      );
      const tasks = events.filter((e) => e.workflowTaskStartedEventAttributes);
      expect(activities.length).toBeGreaterThan(3);
      expect(new Set(scheduled)).toEqual(new Set([queue[cloud]]));
      // the worker's identity is pid@host: the pid tells the two processes apart
      const pidOf = (id: string | null | undefined) => Number(id?.split('@')[0]);
      expect(new Set(activities.map((e) => pidOf(e.activityTaskStartedEventAttributes!.identity)))).toEqual(
        new Set([workers[cloud]!.proc.pid]),
      );
      expect(new Set(tasks.map((e) => pidOf(e.workflowTaskStartedEventAttributes!.identity)))).toEqual(
        new Set([workers[cloud]!.proc.pid]),
      );
    }
  } finally {
    await close();
  }
}, 300_000);

test('a run of no cloud (the catalog of every cloud) goes to the default queue and is served', async () => {
  const r = await cli(configFile, ['--json', 'catalog', 'list']);
  expect(r.stderr).toBe('');
  const rows = JSON.parse(r.stdout) as { cloud: string }[];
  expect(new Set(rows.map((x) => x.cloud))).toEqual(new Set(['lab', 'kolla']));
}, 120_000);

test('a worker asked to serve a cloud the config does not have refuses to start (exit 2)', async () => {
  const r = await execa('node', ['dist/worker/main.js', '--config', configFile, '--cloud', 'nosuch'], {
    reject: false,
  });
  expect(r.exitCode).toBe(2);
  expect(r.stderr).toMatch(/--cloud: no cloud "nosuch" in the config \(clouds: lab, kolla/);
});
