// Case 6: the Cinder snapshot fan-out. N small volumes (1 GiB, sparse on the lab's NFS driver)
// are snapshotted by one backupVolumesWorkflow with the configured concurrency; recorded: the
// wall time, the peak of snapshots in flight as the workflow tracked it and as the activities'
// own clocks show it (request → available intervals), and the per-snapshot latency.
import type { BackupVolumesResult } from '../../workflows/cloud-resources.js';
import { configWithOwnRepo, startWorker, temporalClient } from '../../test/helpers/lab.js';
import {
  addOpenstackCloud,
  adminSession,
  cleanupVolumes,
  createVolume,
  waitVolumes,
} from '../../test/helpers/openstack.js';
import { mapBoundedPlain } from '../lib/bounded.js';
import { log, median } from '../lib/stats.js';

export interface VolumeFanoutResult {
  volumes: number;
  concurrency: number;
  setupSeconds: number;
  wallSeconds: number;
  snapshots: number;
  failed: number;
  maxInFlightWorkflow: number;
  peakInFlightMeasured: number;
  latency: { median: number; p95: number; max: number };
  cleanupSeconds: number;
  /** The fan-out run's history as Temporal counts it (events, bytes). */
  history?: { events: number; bytes: number };
}

export async function volumeFanoutCase(n: number, concurrency: number): Promise<VolumeFanoutResult> {
  const tag = `bench-fanout-${process.pid}-${Date.now()}`;
  const s = adminSession();
  const own = configWithOwnRepo('bench-fanout', (c) =>
    addOpenstackCloud(c, { volumes: { concurrency, statuses: ['available'], metadata: { osb_bench: tag } } }),
  );
  const worker = await startWorker(own.configFile);
  let volumes: string[] = [];
  try {
    const t0 = performance.now();
    log(`volume fan-out: creating ${n} volumes of 1 GiB`);
    volumes = await mapBoundedPlain(
      Array.from({ length: n }, (_, i) => i),
      10,
      (i) => createVolume(s, `b${i}-${tag}`, { osb_bench: tag }),
    );
    await waitVolumes(s, volumes, 'available', 900_000);
    const setupSeconds = (performance.now() - t0) / 1000;
    log(`volume fan-out: ${n} volumes in ${setupSeconds.toFixed(1)} s; snapshotting with concurrency ${concurrency}`);
    const { client, close } = await temporalClient(own.configFile);
    const t1 = performance.now();
    let r: BackupVolumesResult;
    let history: VolumeFanoutResult['history'];
    try {
      const { loadConfig } = await import('../../config/load.js');
      r = await client.workflow.execute('backupVolumesWorkflow', {
        taskQueue: loadConfig(own.configFile).temporal.taskQueue,
        workflowId: `bench-fanout-${tag}`,
        args: [{ cloud: 'openstack' }],
      });
      const d = await client.workflow.getHandle(`bench-fanout-${tag}`).describe();
      history = { events: d.historyLength, bytes: d.historySize ?? NaN };
    } finally {
      await close();
    }
    const wallSeconds = (performance.now() - t1) / 1000;
    const events = r.snapshots
      .flatMap(
        (x) =>
          [
            [x.requestedAt, 1],
            [x.availableAt, -1],
          ] as const,
      )
      .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let live = 0;
    let peak = 0;
    for (const [, d] of events) peak = Math.max(peak, (live += d));
    const lat = r.snapshots.map((x) => (x.availableAt - x.requestedAt) / 1000).sort((a, b) => a - b);
    const t2 = performance.now();
    log(
      `volume fan-out: ${r.snapshots.length} snapshots in ${wallSeconds.toFixed(1)} s (peak ${peak} in flight); cleaning up`,
    );
    await cleanupVolumes(s, volumes);
    volumes = [];
    return {
      volumes: n,
      concurrency: r.concurrency,
      setupSeconds,
      wallSeconds,
      snapshots: r.snapshots.length,
      failed: r.failed.length,
      maxInFlightWorkflow: r.maxInFlight,
      peakInFlightMeasured: peak,
      latency: {
        median: median(lat),
        p95: lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.95))] ?? NaN,
        max: lat.at(-1) ?? NaN,
      },
      cleanupSeconds: (performance.now() - t2) / 1000,
      history,
    };
  } finally {
    if (volumes.length) await cleanupVolumes(s, volumes).catch(() => undefined);
    await worker.stop();
  }
}

export function renderVolumeFanout(r: VolumeFanoutResult, date: string): string {
  return [
    '<!-- volume-fanout -->',
    `## 7. Cinder snapshot fan-out — ${r.volumes} volumes`,
    '',
    `Measured ${date} by \`npm run bench:fanout\` (or within \`npm run bench\`, BENCH_VOLUMES) on the lab's OpenStack (os1: Cinder with the NFS driver, volumes of 1 GiB, sparse).`,
    '',
    '| volumes | concurrency | snapshots | failed | wall s | per volume s | peak in flight (workflow) | peak in flight (activity clocks) | latency median / p95 / max s |',
    '|---|---|---|---|---|---|---|---|---|',
    `| ${r.volumes} | ${r.concurrency} | ${r.snapshots} | ${r.failed} | ${r.wallSeconds.toFixed(1)} | ${(r.wallSeconds / r.volumes).toFixed(2)} | ${r.maxInFlightWorkflow} | ${r.peakInFlightMeasured} | ${r.latency.median.toFixed(1)} / ${r.latency.p95.toFixed(1)} / ${r.latency.max.toFixed(1)} |`,
    '',
    `- the bound held: at most ${r.peakInFlightMeasured} snapshots between request and \`available\` at once (limit ${r.concurrency}).`,
    `- setup (create ${r.volumes} volumes, 10 requests at a time): ${r.setupSeconds.toFixed(1)} s; cleanup: ${r.cleanupSeconds.toFixed(1)} s.`,
    ...(r.history
      ? [
          `- the fan-out run's history: ${r.history.events} events, ${(r.history.bytes / 1024).toFixed(0)} KiB (${(r.history.events / r.volumes).toFixed(1)} events a volume; Temporal refuses a history at 51,200 events or 50 MB).`,
        ]
      : []),
    '<!-- /volume-fanout -->',
    '',
  ].join('\n');
}

/** Puts the section into an existing results.md in place of an earlier one (or at the end). */
export function withVolumeFanout(markdown: string, section: string): string {
  const re = /<!-- volume-fanout -->[\s\S]*?<!-- \/volume-fanout -->\n?/;
  return re.test(markdown) ? markdown.replace(re, section) : `${markdown.trimEnd()}\n\n${section}`;
}
