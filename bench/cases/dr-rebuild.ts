// Case 9: the full rebuild's RTO on the lab. The lab's OpenStack cloud (os1) is backed up
// (database full + control plane), wiped (`openstack.sh wipe`: the host, its database, its keys
// and the deploy host's Kolla tree), then rebuilt by drRebuildWorkflow with both gates approved
// in advance, `reps` times. Volumes and images are left out (skipResources): the figure is the
// control plane's recovery time, which is what bounds the cloud's outage; the integration test
// covers the resources. The figures are the rebuild records' own step timings.
import { execa } from 'execa';
import { loadConfig } from '../../config/load.js';
import type { DrRebuildResult } from '../../workflows/dr-rebuild.js';
import { startWorker, temporalClient } from '../../test/helpers/lab.js';
import { timed } from '../lib/sh.js';
import { repeat, type Sample } from '../lib/stats.js';

export interface RebuildCaseInput {
  configFile: string;
  taskQueue: string;
  cloud: string;
  labDir: string;
  labScripts: string;
  reps: number;
}

export interface RebuildCaseResult {
  backupId: string;
  /** seconds: the rebuild's RTO; extra: each step's seconds and the whole workflow's wall time. */
  samples: Sample[];
}

export async function rebuildCase(inp: RebuildCaseInput): Promise<RebuildCaseResult> {
  const phase = (cmd: string) =>
    execa(`${inp.labScripts}/openstack.sh`, [cmd], { env: { LAB_DIR: inp.labDir }, reject: false, all: true });
  // the worker runs the phase commands: they find the lab through LAB_DIR
  process.env.LAB_DIR = inp.labDir;
  const worker = await startWorker(inp.configFile);
  const { client, close } = await temporalClient(inp.configFile);
  const q = { taskQueue: inp.taskQueue };
  try {
    const b = (await client.workflow.execute('backupDatabaseWorkflow', {
      ...q,
      workflowId: `bench-rebuild-backup-${process.pid}`,
      args: [{ cloud: inp.cloud, kind: 'full', tier: 'bench' }],
    })) as { backupId: string };
    // which parts the cloud has: workflows read no config, the caller says (as the CLI does)
    const c = loadConfig(inp.configFile).clouds[inp.cloud]!;
    const configured = {
      kolla: !!c.controlPlane?.kolla,
      keystoneHosts: c.controlPlane?.keystoneHosts ?? [],
      rabbitmq: !!c.rabbitmq,
    };
    await client.workflow.execute('backupControlPlaneWorkflow', {
      ...q,
      workflowId: `bench-rebuild-cp-${process.pid}`,
      args: [{ cloud: inp.cloud, tier: 'bench', configured }],
    });
    const samples = await repeat(inp.reps, `DR rebuild of ${inp.cloud} from a wiped host`, async (rep) => {
      const wiped = await phase('wipe');
      if (wiped.exitCode !== 0) throw new Error(`openstack.sh wipe failed:\n${wiped.all}`);
      const runId = `bench-${process.pid}-${rep}`;
      const { seconds, value } = await timed(() =>
        client.workflow.execute('drRebuildWorkflow', {
          ...q,
          workflowId: `dr-rebuild:${inp.cloud}:${runId}`,
          args: [{ cloud: inp.cloud, runId, backupId: b.backupId, approved: true, skipResources: true }],
        }),
      );
      const r = value as DrRebuildResult;
      if (r.outcome !== 'completed' || r.rtoSeconds === null)
        throw new Error(`rebuild ${runId} ${r.outcome}: ${r.cloudState}`);
      return {
        seconds: r.rtoSeconds,
        extra: { workflowSeconds: seconds, ...Object.fromEntries(r.steps.map((s) => [s.name, s.seconds])) },
      };
    });
    return { backupId: b.backupId, samples };
  } finally {
    await close();
    await worker.stop();
    // os1 is the lab's shared cloud: never left wiped
    if ((await phase('status')).exitCode !== 0) await phase('up');
  }
}
