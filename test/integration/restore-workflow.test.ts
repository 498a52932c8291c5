// restoreDatabaseWorkflow's decisions, on an ephemeral Temporal dev server: what it does
// when the restored data does NOT match the recorded facts — a case the real lab cannot
// produce on demand. The activities here are stand-ins (named so) for that one purpose; the
// real restore path is covered against the lab in backup-restore.test.ts.
import { fileURLToPath } from 'node:url';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { ArtifactManifest, DbFacts, ReferenceFacts, VerificationRecord } from '../../core/manifest/manifest.js';

import { CLOUD, COMPONENT, PHASE, TIER } from '../../workflows/search-attributes.js';

// The Java time-skipping server cannot register custom search attributes, which the
// workflows upsert; this test needs no time skipping, so it uses the dev server binary.
const temporalCli = process.env.OSBACKUP_TEMPORAL_CLI ?? '.dev/venv/bin/temporal';
let env: TestWorkflowEnvironment;

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('ERROR') }); // the stand-ins' deliberate failures are not news
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

const manifest = {
  id: 'db-full-20261129T000000Z',
  cloud: 'lab',
  kind: 'full',
  mariadb: { checkpoints: { toLsn: '100' } },
  tables: [
    { table: 'nova.instances', rows: 100, checksum: '1', stable: true },
    { table: 'keystone.project', rows: 5, checksum: '2', stable: true },
  ],
} as unknown as ArtifactManifest;

/** A backup whose facts come from the backup, never restored yet: only its listed tables. */
const unread = {
  ...manifest,
  tables: [],
  factsFrom: 'backup',
  listedTables: [
    { table: 'nova.instances', engine: 'InnoDB', estimatedRows: 90 },
    { table: 'keystone.project', engine: 'InnoDB', estimatedRows: 5 },
  ],
} as unknown as ArtifactManifest;

function standInActivities(
  restored: DbFacts,
  calls: string[],
  records: VerificationRecord[],
  planned: ArtifactManifest,
  references: ReferenceFacts[],
) {
  const step = (name: string) => async () => {
    calls.push(name);
    return { seconds: 0, bytes: 0, restoreDir: '/x', asideDir: null };
  };
  return {
    repositoryPlanRestore: async () => [planned],
    mariadbRestoreStream: step('stream'),
    mariadbPrepareChain: async () => (calls.push('prepare'), { seconds: 0, applied: [] }),
    mariadbStopServer: step('stop'),
    mariadbCopyBack: step('copyBack'),
    mariadbStartServer: step('start'),
    mariadbRemoveRestoreDir: step('cleanup'),
    mariadbCollectFacts: async () => restored,
    repositoryWriteVerification: async ({ record }: { record: VerificationRecord }) => {
      records.push(record);
      return { path: 'x' };
    },
    repositoryWriteReferenceFacts: async ({ facts }: { facts: ReferenceFacts }) => {
      references.push(facts);
      return { path: 'x', kept: true };
    },
  };
}

async function run(restored: DbFacts, failAt?: string, planned: ArtifactManifest = manifest) {
  const calls: string[] = [];
  const records: VerificationRecord[] = [];
  const references: ReferenceFacts[] = [];
  const acts = standInActivities(restored, calls, records, planned, references) as Record<
    string,
    (...a: never[]) => Promise<unknown>
  >;
  if (failAt) {
    acts[failAt] = async () => {
      calls.push(failAt);
      throw ApplicationFailure.create({ type: 'ChecksumMismatch', message: 'artifact is corrupt', nonRetryable: true });
    };
  }
  const taskQueue = `wf-${Math.random().toString(36).slice(2)}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowsPath: fileURLToPath(new URL('../../dist/workflows/index.js', import.meta.url)),
    activities: acts,
  });
  const outcome = await worker.runUntil(
    env.client.workflow
      .execute('restoreDatabaseWorkflow', {
        taskQueue,
        workflowId: `restore-test-${taskQueue}`,
        args: [{ cloud: 'lab', targetHost: 'ctl2' }],
      })
      .then(
        (r) => ({ ok: true as const, r }),
        (e: unknown) => ({ ok: false as const, e }),
      ),
  );
  return { outcome, calls, records, references };
}

test('matching data: VERIFIED, a record is written, the scratch folder is removed', async () => {
  const { outcome, calls, records } = await run({
    serverVersion: 'x',
    tables: [
      { table: 'nova.instances', rows: 100, checksum: '1' },
      { table: 'keystone.project', rows: 5, checksum: '2' },
    ],
  });
  expect(outcome.ok).toBe(true);
  // the scratch folder is removed while the server starts: the two may run in either order
  expect(calls.slice(0, 4)).toEqual(['stream', 'prepare', 'stop', 'copyBack']);
  expect(calls.slice(4).sort()).toEqual(['cleanup', 'start']);
  expect(records.map((r) => r.result)).toEqual(['VERIFIED']);
});

test('different data: a FAILED record is stored and the workflow fails non-retryably, naming the table', async () => {
  const { outcome, records } = await run({
    serverVersion: 'x',
    tables: [
      { table: 'nova.instances', rows: 99, checksum: '1' },
      { table: 'keystone.project', rows: 5, checksum: '2' },
    ],
  });
  expect(outcome.ok).toBe(false);
  const cause = (outcome as { e: WorkflowFailedError }).e.cause as ApplicationFailure;
  expect(cause.type).toBe('VerificationFailed');
  expect(cause.nonRetryable).toBe(true);
  expect(cause.message).toMatch(/nova\.instances: different \(rows 99 vs 100/);
  expect(records.map((r) => r.result)).toEqual(['FAILED']);
  expect(records[0]!.tables.find((t) => t.table === 'keystone.project')!.outcome).toBe('equal');
});

test('an integrity failure while streaming stops the runbook before the server is touched', async () => {
  const { outcome, calls, records } = await run({ serverVersion: 'x', tables: [] }, 'mariadbRestoreStream');
  expect(outcome.ok).toBe(false);
  expect(calls).toEqual(['mariadbRestoreStream']);
  expect(records).toEqual([]);
});

test('the first restore of a backup whose facts come from the backup reads them and keeps them as its reference', async () => {
  const read = [
    { table: 'nova.instances', rows: 100, checksum: '1' },
    { table: 'keystone.project', rows: 5, checksum: '2' },
  ];
  const { outcome, records, references } = await run({ serverVersion: 'x', tables: read }, undefined, unread);
  expect(outcome.ok).toBe(true);
  expect(records.map((r) => [r.result, r.tables.map((t) => t.outcome)])).toEqual([
    ['VERIFIED', ['recorded', 'recorded']],
  ]);
  expect(references).toHaveLength(1);
  expect(references[0]).toMatchObject({ backupId: manifest.id, host: 'ctl2', toLsn: '100', tables: read });
});

test('a listed table missing after that first restore fails it, and nothing becomes the reference', async () => {
  const { outcome, records, references } = await run(
    { serverVersion: 'x', tables: [{ table: 'nova.instances', rows: 100, checksum: '1' }] },
    undefined,
    unread,
  );
  expect(outcome.ok).toBe(false);
  const cause = (outcome as { e: WorkflowFailedError }).e.cause as ApplicationFailure;
  expect(cause.type).toBe('VerificationFailed');
  expect(cause.message).toMatch(/keystone\.project: missing/);
  expect(records.map((r) => r.result)).toEqual(['FAILED']);
  expect(references).toEqual([]);
});
