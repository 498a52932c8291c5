// Failure messages and stack traces are encrypted in Temporal history, on an
// ephemeral Temporal dev server: a failure carrying a marker is raised in an activity and in
// workflow code; the raw history, read without the codec, must not hold the marker anywhere in
// its protobuf bytes, while a client with osbackup's data converter reads the message as
// thrown. A control run whose worker lacks the failure converter shows the search would see it.
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { Client, WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, type DataConverter } from '@temporalio/common';
import proto from '@temporalio/proto';
import type { Config } from '../../config/schema.js';
import { dataConverter, FAILURE_CONVERTER_PATH, failureMessage, payloadCodecs } from '../../config/temporal.js';
import { rootCause } from '../../client/connect.js';

const { temporal } = proto;
const temporalCli = process.env.OSBACKUP_TEMPORAL_CLI ?? '.dev/venv/bin/temporal';
const WORKFLOW = fileURLToPath(new URL('../../dist/test/fixtures/encoded-failure-workflow.js', import.meta.url));
const MARKER = 'secret-marker-XYZ';

let env: TestWorkflowEnvironment;
let code: string;
let config: Config;

beforeAll(async () => {
  // A missing server binary or build is a failure, never a skip.
  if (!existsSync(temporalCli))
    throw new Error(`no temporal CLI at ${temporalCli}: set OSBACKUP_TEMPORAL_CLI (./dev up installs it)`);
  for (const f of [WORKFLOW, FAILURE_CONVERTER_PATH])
    if (!existsSync(f)) throw new Error(`${f} is missing: build first (npx tsc -p tsconfig.json)`);
  Runtime.install({ logger: new DefaultLogger('ERROR') }); // the deliberate failures are not news
  const dir = mkdtempSync(join(tmpdir(), 'osbackup-codec-'));
  writeFileSync(join(dir, 'payload.key'), randomBytes(32).toString('hex'));
  config = { temporal: { payloadKey: { file: join(dir, 'payload.key') } } } as unknown as Config;
  env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: temporalCli } },
  });
  // its own free port: never the developer's server on 7233
  expect(env.address).not.toMatch(/:7233$/);
  ({ code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOW,
    failureConverterPath: FAILURE_CONVERTER_PATH,
    logger: new DefaultLogger('WARN'),
  }));
});
afterAll(async () => {
  await env?.teardown();
});

async function run(where: 'activity' | 'workflow', workerConverter: DataConverter) {
  const namespace = env.namespace ?? 'default';
  const taskQueue = `enc-${where}-${Math.random().toString(36).slice(2)}`;
  const workflowId = `encoded-failure-${taskQueue}`;
  const client = new Client({ connection: env.connection, namespace, dataConverter: dataConverter(config) });
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace,
    taskQueue,
    workflowBundle: { code },
    activities: {
      failWith: async (message: string) => {
        throw ApplicationFailure.nonRetryable(message, 'LeakTest');
      },
    },
    dataConverter: workerConverter,
  });
  const error = await worker.runUntil(
    client.workflow
      .execute('encodedFailureWorkflow', { taskQueue, workflowId, args: [where, `${MARKER} went wrong. Fix: nothing`] })
      .then(
        () => undefined,
        (e: unknown) => e,
      ),
  );
  // The raw history, straight from the gRPC service: no payload codec, no failure converter.
  const raw = await env.connection.workflowService.getWorkflowExecutionHistory({
    namespace,
    execution: { workflowId },
  });
  const bytes = Buffer.from(temporal.api.history.v1.History.encode(raw.history!).finish());
  return { error, bytes, events: raw.history!.events ?? [], client };
}

test.each(['activity', 'workflow'] as const)(
  'a failure raised in the %s: nowhere in the raw history, readable with the codec',
  async (where) => {
    const { error, bytes, events, client } = await run(where, dataConverter(config));
    expect(bytes.length).toBeGreaterThan(0);
    expect(bytes.includes(Buffer.from('encodedFailureWorkflow'))).toBe(true); // the search does see plain text
    expect(bytes.includes(Buffer.from(MARKER))).toBe(false);
    expect(bytes.includes(Buffer.from('Encoded failure'))).toBe(true);

    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause =
      where === 'activity'
        ? ((error as WorkflowFailedError).cause as ActivityFailure).cause
        : (error as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).message).toBe(`${MARKER} went wrong. Fix: nothing`);
    // what `osbackup … --wait` prints stays the same
    const c = rootCause(error);
    expect(`${c.type ? `[${c.type}] ` : ''}${c.message}`).toBe(`[LeakTest] ${MARKER} went wrong. Fix: nothing`);

    // and a raw failure (as describe() returns a pending activity's lastFailure) decodes with failureMessage
    const failed = events.find((e) => e.activityTaskFailedEventAttributes ?? e.workflowExecutionFailedEventAttributes);
    const failure =
      where === 'activity'
        ? failed!.activityTaskFailedEventAttributes!.failure
        : failed!.workflowExecutionFailedEventAttributes!.failure;
    expect(failure!.message).toBe('Encoded failure');
    expect(await failureMessage(client.options.loadedDataConverter, failure)).toBe(
      `${MARKER} went wrong. Fix: nothing`,
    );
  },
);

test('control: a worker without the failure converter leaves the activity failure message in plain text', async () => {
  const { bytes } = await run('activity', { payloadCodecs: payloadCodecs(config) });
  expect(bytes.includes(Buffer.from(MARKER))).toBe(true);
});
