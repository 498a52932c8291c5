// The osbackup worker: its own process, one per site in production. Loads and validates the
// config, builds the activities, runs until SIGINT/SIGTERM, then drains and exits.
import { readFileSync } from 'node:fs';
import { formatWithOptions } from 'node:util';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { redact } from '../activities/redact.js';
import { createActivities } from '../activities/index.js';
import { keepalive } from '../activities/keepalive.js';
import { requireHeartbeatTimeouts } from '../activities/heartbeat.js';
import { SshPool } from '../activities/ssh/pool.js';
import { ConfigError, configPath, loadConfig } from '../config/load.js';
import { connectionOptions, dataConverter } from '../config/temporal.js';
import { freshBundle, WORKFLOWS_PATH } from './bundle.js';
import { startWorkerMetrics, type WorkerMetrics } from './metrics-server.js';

const version = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

async function main(): Promise<number> {
  const file = configPath(process.argv.find((a, i) => process.argv[i - 1] === '--config'));
  let config;
  try {
    config = loadConfig(file);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      return 2;
    }
    throw e;
  }
  // the SDK's own metrics (Rust core) need their exporter at install time: their own port
  const sdkListen = config.metrics?.sdkListen;
  Runtime.install({
    shutdownSignals: ['SIGINT', 'SIGTERM'],
    logger: redactingLogger(),
    ...(sdkListen
      ? { telemetryOptions: { metrics: { prometheus: { bindAddress: sdkListen.replace(/^:/, '0.0.0.0:') } } } }
      : {}),
  });
  const connection = await NativeConnection.connect(connectionOptions(config));
  const ssh = new SshPool();
  let metrics: WorkerMetrics | undefined;
  try {
    const deps = { config, env: process.env, ssh, version };
    requireHeartbeatTimeouts(process.env.OSBACKUP_ASSERT_HEARTBEAT === '1');
    if (config.metrics) {
      metrics = await startWorkerMetrics(deps, config.metrics);
      console.log(
        `osbackup metrics: http://${metrics.address}/metrics${sdkListen ? ` (Temporal SDK metrics: http://${sdkListen}/metrics)` : ''}`,
      );
    }
    const worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      ...workflowCode(),
      activities: createActivities(deps),
      dataConverter: dataConverter(config),
      shutdownGraceTime: '30 seconds',
      // heartbeat details carry bytes done: sent every 2 s (not 80 % of the heartbeat timeout) so
      // `--wait` and `osbackup watch` show live progress; one small call per running activity
      maxHeartbeatThrottleInterval: '2 seconds',
      interceptors: { activity: [(ctx) => keepalive(ctx)] },
    });
    console.log(
      `osbackup worker ready: namespace ${config.temporal.namespace}, task queue ${config.temporal.taskQueue}, config ${file}`,
    );
    await worker.run();
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

/** The prebuilt bundle (./dev build); bundling here instead works but costs memory and start-up. */
function workflowCode() {
  const codePath = freshBundle();
  if (codePath) return { workflowBundle: { codePath } };
  console.warn('no fresh workflow bundle (run ./dev build): bundling the workflows in the worker');
  return { workflowsPath: WORKFLOWS_PATH };
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`osbackup worker failed: ${redact(e instanceof Error ? e.message : String(e))}`);
    process.exit(1);
  },
);
