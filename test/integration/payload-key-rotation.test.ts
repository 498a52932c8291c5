// Rotating the payload key on the real lab while a schedule and the binlog archiver exist: both
// were written under the old key (a single temporal.payloadKey); the worker restarts and the CLI
// runs with the ring [new, old]; the schedule's run and the archiver go on, what is written from
// then on carries the new key id and what was written before the old one. Then the old key is
// dropped too early (a clear error naming its id), and `schedules apply` re-encrypts the
// schedule, after which the new key alone is enough. One worker at a time, on one task queue.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { parse, stringify } from 'yaml';
import type { Payload, ProtoFailure } from '@temporalio/common';
import { keyFingerprint, payloadKeyId } from '../../config/payload-codec.js';
import { failureMessage } from '../../config/temporal.js';
import { pitrArchiveWorkflowId } from '../../core/pitr/segments.js';
import type { PitrArchiveStatus } from '../../workflows/pitr-archive.js';
import { archivedPast, writeAlone, type TimedWrite } from '../helpers/timed-writes.js';
import {
  cli,
  configWithOwnRepo,
  sql,
  startWorker,
  stepTimer,
  temporalClient,
  type WorkerProcess,
} from '../helpers/lab.js';

type Raw = Record<string, any>;
const run = `${process.pid}${Date.now() % 100000}`;
const archCloud = `kra${run}`;
const schedCloud = `krs${run}`;
const schema = `keyring_${run}`;
const scheduleId = `osbackup-${schedCloud}-rotate`;
const archiverId = pitrArchiveWorkflowId(archCloud);
const { timings, timed } = stepTimer();

const keysDir = mkdtempSync(join(tmpdir(), 'osb-keyring-keys-'));
const oldKey = randomBytes(32);
const newKey = randomBytes(32);
const oldFile = join(keysDir, 'payload-old.key');
const newFile = join(keysDir, 'payload-new.key');
writeFileSync(oldFile, oldKey.toString('hex'), { mode: 0o600 });
writeFileSync(newFile, newKey.toString('base64'), { mode: 0o600 });
/** What payloads under the old key carry: written by a single payloadKey, its fingerprint. */
const OLD_ID = keyFingerprint(oldKey);
const NEW_ID = '2026-new';

const off = { enabled: false };
const { dir, configFile: oldConfig } = configWithOwnRepo('keyring', (c) => {
  const lab = c.clouds.lab as Raw;
  c.temporal.payloadKey = { file: oldFile };
  c.clouds = {
    [archCloud]: {
      ...lab,
      database: { ...lab.database, binlog: { segmentSeconds: 1, rpoTargetSeconds: 10 } },
      schedules: { entries: { daily: off, controlPlane: off, weekly: off, monthly: off, rotate: off, verify: off } },
    },
    [schedCloud]: {
      ...lab,
      schedules: { entries: { daily: off, controlPlane: off, weekly: off, monthly: off, verify: off } },
    },
  };
  c.defaultCloud = schedCloud;
});
/** The same config (same task queue) with another temporal key setting. */
function variant(name: string, keys: Raw): string {
  const raw = parse(readFileSync(oldConfig, 'utf8')) as Raw;
  delete raw.temporal.payloadKey;
  Object.assign(raw.temporal, keys);
  const file = join(dirname(oldConfig), `${name}.yml`);
  writeFileSync(file, stringify(raw));
  return file;
}
// the old key keeps an id of its own in the ring: its payloads carry the fingerprint, which the ring also knows
const ringConfig = variant('ring', {
  payloadKeys: [
    { id: NEW_ID, key: { file: newFile } },
    { id: 'old', key: { file: oldFile } },
  ],
});
const newOnlyConfig = variant('new-only', { payloadKeys: [{ id: NEW_ID, key: { file: newFile } }] });

let worker: WorkerProcess | undefined;
let ring: Awaited<ReturnType<typeof temporalClient>>;
let firstRunId = '';
let rotatedAt = 0;
const writes: TimedWrite[] = [];
const extraWorkflows: string[] = [];
/** The run the worker without the old key could not start. */
let stuckRun = '';

const keyIds = (ps: readonly unknown[] | null | undefined) => (ps ?? []).map((p) => payloadKeyId(p as Payload));
const status = () => ring.client.workflow.getHandle(archiverId).query<PitrArchiveStatus>('status');
const write = async (id: number) =>
  writeAlone(writes, 'ctl1', id, `INSERT INTO ${schema}.t VALUES (${id})`).then((w) => w.at);
const archived = (at: number) => archivedPast(status, at, 30_000, () => worker?.output().slice(-3000) ?? '');

async function osb(config: string, ...args: string[]) {
  const r = await cli(config, ['--json', ...args]);
  if (r.exitCode !== 0) throw new Error(`osbackup ${args.join(' ')} exited ${r.exitCode}: ${r.stdout} ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** The raw history of one run: its events with payloads as stored (encrypted). */
async function events(workflowId: string, runId?: string) {
  return (await ring.client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
}

async function restartWorker(config: string): Promise<void> {
  await worker?.stop();
  worker = await startWorker(config);
}

beforeAll(async () => {
  await sql('ctl1', `CREATE DATABASE ${schema}; CREATE TABLE ${schema}.t (id INT PRIMARY KEY)`);
  ring = await temporalClient(ringConfig);
}, 30_000);

afterAll(async () => {
  await ring?.client.workflow
    .getHandle(archiverId)
    .terminate('test over')
    .catch(() => undefined);
  for (const w of extraWorkflows)
    await ring?.client.workflow
      .getHandle(w)
      .terminate('test over')
      .catch(() => undefined);
  await ring?.client.schedule
    .getHandle(scheduleId)
    .delete()
    .catch(() => undefined);
  await worker?.stop();
  await ring?.close();
  await sql('ctl1', `DROP DATABASE IF EXISTS ${schema}`).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
  rmSync(dirname(oldConfig), { recursive: true, force: true });
  rmSync(keysDir, { recursive: true, force: true });
  console.log(`payload key rotation, seconds per step: ${JSON.stringify(timings)}`);
});

test('before the rotation: the schedule and the archiver are written under the single payloadKey', async () => {
  await timed('worker (old key) up', () => restartWorker(oldConfig));
  const applied = await osb(oldConfig, 'schedules', 'apply');
  expect(applied.created).toEqual([scheduleId]);
  const d = await ring.client.schedule.getHandle(scheduleId).describe();
  const w = d.raw.schedule!.action!.startWorkflow!;
  expect([...keyIds(w.input!.payloads), ...keyIds(Object.values(d.raw.memo!.fields!))]).toEqual([OLD_ID, OLD_ID]);

  const old = await temporalClient(oldConfig);
  try {
    // a new run every 3 steps (the CLI's archiver takes 500): the rotation is seen across runs quickly
    const h = await old.client.workflow.start('pitrArchiveWorkflow', {
      taskQueue: parse(readFileSync(oldConfig, 'utf8')).temporal.taskQueue,
      workflowId: archiverId,
      args: [{ cloud: archCloud, stepsPerRun: 3 }],
    });
    firstRunId = h.firstExecutionRunId;
  } finally {
    await old.close();
  }
  await timed('archiver catches up (old key)', async () => archived(await write(1)));
  const started = (await events(archiverId, firstRunId))[0]!.workflowExecutionStartedEventAttributes!;
  expect(keyIds(started.input!.payloads)).toEqual([OLD_ID]);
}, 60_000);

test('rotated (worker and CLI on [new, old]): the schedule runs to completion and the archiver archives on; new payloads carry the new key id', async () => {
  await timed('worker restart (ring)', () => restartWorker(ringConfig));
  expect(worker!.output()).toContain(`payload keys ${NEW_ID} (current), old`);
  rotatedAt = Date.now();
  const before = (await status()).segments;

  // the schedule's stored argument is still under the old key: its run reads it with the ring
  const t = await osb(ringConfig, 'schedules', 'trigger', 'rotate');
  const result = await timed('scheduled run (ring)', () => ring.client.workflow.getHandle(t.workflowId).result());
  expect(result).toEqual(expect.any(Array));
  const runEvents = await events(t.workflowId);
  expect(keyIds(runEvents[0]!.workflowExecutionStartedEventAttributes!.input!.payloads)).toEqual([OLD_ID]);
  const completed = runEvents.find((e) => e.workflowExecutionCompletedEventAttributes)!;
  expect(keyIds(completed.workflowExecutionCompletedEventAttributes!.result!.payloads)).toEqual([NEW_ID]);
  const scheduled = runEvents.flatMap((e) => keyIds(e.activityTaskScheduledEventAttributes?.input?.payloads));
  expect(scheduled.length).toBeGreaterThan(0);
  expect(new Set(scheduled)).toEqual(new Set([NEW_ID]));

  // the archiver: a segment cut after the rotation, and a run continued-as-new under the new key
  const s = await timed('archiver catches up (ring)', async () => archived(await write(2)));
  expect(s.segments).toBeGreaterThan(before);
  let current = await ring.client.workflow.getHandle(archiverId).describe();
  for (const t0 = Date.now(); current.startTime.getTime() < rotatedAt && Date.now() - t0 < 20_000; ) {
    await new Promise((r) => setTimeout(r, 300));
    current = await ring.client.workflow.getHandle(archiverId).describe();
  }
  expect(current.startTime.getTime()).toBeGreaterThanOrEqual(rotatedAt);
  const cur = await events(archiverId, current.runId);
  const curStart = cur[0]!.workflowExecutionStartedEventAttributes!;
  expect(curStart.continuedExecutionRunId).toBeTruthy();
  expect(keyIds(curStart.input!.payloads)).toEqual([NEW_ID]);
  const first = (await events(archiverId, firstRunId))[0]!.workflowExecutionStartedEventAttributes!;
  expect(keyIds(first.input!.payloads)).toEqual([OLD_ID]);

  // `osbackup codec-server` takes the same ring: it decodes the old run's input and encodes under the new id
  const server = execa(
    'node',
    ['dist/client/cli.js', '--config', ringConfig, 'codec-server', '--listen', '127.0.0.1:0'],
    {
      reject: false,
      buffer: false,
    },
  );
  try {
    let out = '';
    server.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    for (const t0 = Date.now(); !/on (http:\S+)/.test(out) && Date.now() - t0 < 15_000; )
      await new Promise((r) => setTimeout(r, 100));
    const url = /on (http:\S+)/.exec(out)![1]!;
    expect(out).toContain(`keys ${NEW_ID} (current), old`);
    const b64 = (u?: Uint8Array | null) => Buffer.from(u ?? []).toString('base64');
    const asJson = (p: Payload) => ({
      metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, b64(v)])),
      data: b64(p.data),
    });
    const post = (op: string, payloads: unknown[]) =>
      fetch(`${url}/${op}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ payloads }),
      }).then(async (r) => ({
        status: r.status,
        body: (await r.json()) as { payloads: { metadata: Record<string, string>; data: string }[] },
      }));
    const dec = await post('decode', [asJson(first.input!.payloads![0] as Payload)]);
    expect(dec.status).toBe(200);
    expect(JSON.parse(Buffer.from(dec.body.payloads[0]!.data, 'base64').toString())).toMatchObject({
      cloud: archCloud,
    });
    const enc = await post('encode', dec.body.payloads);
    expect(Buffer.from(enc.body.payloads[0]!.metadata['encryption-key-id']!, 'base64').toString()).toBe(NEW_ID);
  } finally {
    server.kill('SIGTERM');
    await server;
  }
}, 90_000);

test('the old key dropped too early: the CLI and the worker fail naming its id and the fix; the archiver, continued-as-new since, needs only the new key', async () => {
  await timed('worker restart (new key only)', () => restartWorker(newOnlyConfig));

  // the CLI: the schedule's memo and argument are still under the old key
  const listed = await cli(newOnlyConfig, ['schedules', 'list']);
  expect(listed.exitCode).not.toBe(0);
  expect(listed.stderr).toContain(
    `payload was encrypted with key ${OLD_ID}, which is not in this process's payload key ring (${NEW_ID} (current))`,
  );
  expect(listed.stderr).toMatch(/Fix: add that key to temporal\.payloadKeys/);
  for (const k of [oldKey, newKey])
    for (const s of [k.toString('hex'), k.toString('base64')]) expect(listed.stderr + listed.stdout).not.toContain(s);

  // the worker: a run the schedule starts carries the old key; its workflow task fails with the same reason
  const t = await osb(ringConfig, 'schedules', 'trigger', 'rotate');
  extraWorkflows.push(t.workflowId);
  let failure: ProtoFailure | null | undefined;
  await timed('workflow task failure seen', async () => {
    for (const t0 = Date.now(); !failure && Date.now() - t0 < 20_000; ) {
      failure = (await events(t.workflowId)).find((e) => e.workflowTaskFailedEventAttributes)
        ?.workflowTaskFailedEventAttributes?.failure;
      if (!failure) await new Promise((r) => setTimeout(r, 200));
    }
  });
  const why = await failureMessage(ring.client.options.loadedDataConverter, failure);
  expect(why).toContain(`payload was encrypted with key ${OLD_ID}, which is not in this process's payload key ring`);
  expect(worker!.output()).toContain(`encrypted with key ${OLD_ID}`);
  expect((await ring.client.workflow.getHandle(t.workflowId).describe()).status.name).toBe('RUNNING');
  stuckRun = t.workflowId;

  // the archiver's current run was started under the new key: it goes on with the new key alone
  const before = (await status()).segments;
  const s = await timed('archiver catches up (new key only)', async () => archived(await write(3)));
  expect(s.segments).toBeGreaterThan(before);
}, 90_000);

test('`schedules apply` re-encrypts the schedule under the new key; then the new key alone lists, applies and runs it', async () => {
  const applied = await osb(ringConfig, 'schedules', 'apply');
  expect(applied.rekeyed).toEqual([scheduleId]);
  expect(applied.staleKeys).toEqual([{ scheduleId, keyIds: [OLD_ID] }]);
  const d = await ring.client.schedule.getHandle(scheduleId).describe();
  const w = d.raw.schedule!.action!.startWorkflow!;
  const stored = [
    ...keyIds(Object.values(d.raw.memo!.fields!)),
    ...keyIds(w.input!.payloads),
    ...keyIds(Object.values(w.memo!.fields!)),
  ];
  expect(stored.length).toBe(3);
  expect(new Set(stored)).toEqual(new Set([NEW_ID]));

  const listed = await osb(newOnlyConfig, 'schedules', 'list');
  expect(listed.schedules).toEqual([expect.objectContaining({ scheduleId, staleKeys: [], paused: false })]);
  const again = await osb(newOnlyConfig, 'schedules', 'apply');
  expect([again.unchanged, again.rekeyed, again.updated, again.created]).toEqual([[scheduleId], [], [], []]);
  const t = await osb(newOnlyConfig, 'schedules', 'trigger', 'rotate');
  await timed('scheduled run (new key only)', () => ring.client.workflow.getHandle(t.workflowId).result());
  const start = (await events(t.workflowId))[0]!.workflowExecutionStartedEventAttributes!;
  expect(keyIds(start.input!.payloads)).toEqual([NEW_ID]);
}, 60_000);

test('the key put back: the run that waited goes on and completes', async () => {
  await timed('worker restart (ring again)', () => restartWorker(ringConfig));
  const result = await timed('waiting run completes', () => ring.client.workflow.getHandle(stuckRun).result());
  expect(result).toEqual(expect.any(Array));
}, 60_000);
