// The osbackup worker (`osbackup worker`): its own process, one per site in production. Loads
// and validates the config, checks the host tools it spawns, builds the activities, runs until
// SIGINT/SIGTERM, then drains and exits.
import { readFileSync } from 'node:fs';
import { formatWithOptions } from 'node:util';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { redact } from '../activities/redact.js';
import { createActivities } from '../activities/index.js';
import { keepalive } from '../activities/keepalive.js';
import { requireHeartbeatTimeouts } from '../activities/heartbeat.js';
import { SshPool } from '../activities/ssh/pool.js';
import { ConfigError, configPath, loadConfig } from '../config/load.js';
import { AesGcmPayloadCodec, connectionOptions, dataConverter, TemporalSetupError } from '../config/temporal.js';
import { freshBundle, WORKFLOWS_PATH } from './bundle.js';
import { checkHostTools } from './host-tools.js';
import { connectExplained, TemporalUnreachable } from '../client/transport-probe.js';
import { missingSearchAttributes, NamespaceMissing, setupMissingMessage } from '../client/temporal-setup.js';
import { startWorkerMetrics, type WorkerMetrics } from './metrics-server.js';
import { servedQueues, type ServedQueues } from '../config/task-queues.js';

const version = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** Runs the worker until a shutdown signal; the process's exit code. */
export async function runWorker(opts: { config?: string; clouds?: string[] }): Promise<number> {
  let file: string;
  let config;
  let served: ServedQueues;
  try {
    file = configPath(opts.config);
    config = loadConfig(file);
    served = servedQueues(config, opts.clouds);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      return 2;
    }
    if (e instanceof Error && opts.clouds?.length) {
      console.error(`osbackup worker: --cloud: ${e.message}`);
      return 2;
    }
    throw e;
  }
  if (!process.env.MALLOC_ARENA_MAX)
    console.warn(
      'osbackup worker: MALLOC_ARENA_MAX is not set: glibc keeps an arena per thread and the worker holds more memory at its peaks. Fix: start it with MALLOC_ARENA_MAX=2 (deploy/osbackup-worker.service does)',
    );
  const tools = await checkHostTools();
  for (const w of tools.warnings) console.warn(`osbackup worker: ${w}`);
  if (tools.missing.length) {
    console.error(`osbackup worker: ${tools.missing.join('; ')}`);
    return 2;
  }
  // the SDK's own metrics (Rust core) need their exporter at install time: their own port
  const sdkListen = config.metrics?.sdkListen;
  // The SDK's signal listener removes itself on the first signal, and execa's child clean-up
  // (signal-exit) re-raises a signal when it finds no listener but its own: a SIGTERM while a
  // subprocess runs (gpg, zstd) would kill the worker at once instead of draining it. This one stays.
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.on(sig, () =>
      console.warn(
        `osbackup worker: ${sig}: draining (no new work; running activities get ${config.worker.shutdownGraceSeconds} s to finish, then are cancelled)`,
      ),
    );
  Runtime.install({
    shutdownSignals: ['SIGINT', 'SIGTERM'],
    logger: redactingLogger(),
    ...(sdkListen
      ? { telemetryOptions: { metrics: { prometheus: { bindAddress: sdkListen.replace(/^:/, '0.0.0.0:') } } } }
      : {}),
  });
  let connection: NativeConnection;
  let converter;
  try {
    converter = dataConverter(config);
    const options = connectionOptions(config);
    connection = await connectExplained(config, () => NativeConnection.connect(options));
  } catch (e) {
    if (!(e instanceof TemporalSetupError || e instanceof TemporalUnreachable)) throw e;
    console.error(`osbackup worker: ${redact(e.message)}`);
    return e instanceof TemporalSetupError ? 2 : 3;
  }
  let missing: string[] | null;
  try {
    missing = await missingSearchAttributes(connection, config.temporal.namespace);
  } catch (e) {
    missing = null;
    if (e instanceof NamespaceMissing) {
      console.error(`osbackup worker: ${e.message}`);
      await connection.close();
      return 2;
    }
  }
  if (missing?.length) {
    console.error(`osbackup worker: ${setupMissingMessage(config.temporal.namespace, missing)}`);
    await connection.close();
    return 2;
  }
  const codec = converter.payloadCodecs?.find((c) => c instanceof AesGcmPayloadCodec);
  if (!codec)
    console.warn(
      'osbackup worker: temporal.payloadKeys is not set: workflow inputs, results and failures are stored in Temporal in clear' +
        (config.temporal.allowUnencryptedPayloads
          ? ' (allowUnencryptedPayloads: true)'
          : '. Fix: set temporal.payloadKeys'),
    );
  const ssh = new SshPool();
  let metrics: WorkerMetrics | undefined;
  try {
    const deps = { config, env: process.env, ssh, version };
    requireHeartbeatTimeouts(process.env.OSBACKUP_ASSERT_HEARTBEAT === '1');
    if (config.metrics) {
      metrics = await startWorkerMetrics(deps, config.metrics, served);
      console.log(
        `osbackup metrics: http://${metrics.address}/metrics${sdkListen ? ` (Temporal SDK metrics: http://${sdkListen}/metrics)` : ''}`,
      );
    }
    // one SDK worker per queue, sharing the connection and the activities' SSH pool; a
    // signal stops them all (each drains as below)
    const activities = createActivities(deps);
    const code = await workflowCode();
    const workers = await Promise.all(
      served.queues.map((taskQueue) =>
        Worker.create({
          connection,
          namespace: config.temporal.namespace,
          taskQueue,
          ...code,
          activities,
          dataConverter: converter,
          // SIGTERM: stop polling, let running activities finish, then cancel them; the force time
          // bounds the whole stop so a stuck activity cannot hold the process forever
          shutdownGraceTime: `${config.worker.shutdownGraceSeconds} seconds`,
          shutdownForceTime: `${config.worker.shutdownGraceSeconds + 60} seconds`,
          // heartbeat details carry bytes done: sent every 2 s (not 80 % of the heartbeat timeout) so
          // `--wait` and `osbackup watch` show live progress; one small call per running activity
          maxHeartbeatThrottleInterval: '2 seconds',
          interceptors: { activity: [(ctx) => keepalive(ctx)] },
        }),
      ),
    );
    console.log(
      `osbackup worker ready: namespace ${config.temporal.namespace}, task queue${served.queues.length > 1 ? 's' : ''} ${served.queues.join(', ')} (clouds ${served.clouds.join(', ')}), config ${file}${codec ? `, payload keys ${codec.ring.describe()}` : ''}`,
    );
    // one worker failing stops the others: the process exits and its service manager restarts it
    await Promise.all(
      workers.map((w) =>
        w.run().catch((e: unknown) => {
          for (const o of workers) if (o !== w && o.getState() === 'RUNNING') o.shutdown();
          throw e;
        }),
      ),
    );
    console.log('osbackup worker stopped');
    return 0;
  } finally {
    await metrics?.close();
    ssh.close();
    await connection.close();
  }
}

/** The SDK's log lines (activity and workflow failures among them) through the one redaction function. */
function redactingLogger(): DefaultLogger {
  return new DefaultLogger('INFO', ({ level, timestampNanos, message, meta }) => {
    const line = `${new Date(Number(timestampNanos / 1_000_000n)).toISOString()} [${level}] ${message}${meta === undefined ? '' : ` ${formatWithOptions({ colors: false }, meta)}`}`;
    process.stderr.write(`${redact(line)}\n`);
  });
}

/** The prebuilt bundle (./dev build); bundling here instead works but costs memory and start-up (once for every queue). */
async function workflowCode() {
  const codePath = freshBundle();
  if (codePath) return { workflowBundle: { codePath } };
  console.warn(
    'no fresh workflow bundle (dist/workflow-bundle.js; `npm run build` makes it): bundling the workflows in the worker',
  );
  return {
    workflowBundle: await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('WARN') }),
  };
}
