// Workflows already running must keep running after a change: every recorded history
// (test/fixtures/histories, recorded from the code of its day) replays against today's workflow
// code without a nondeterminism error. A change that fails here needs a patched() marker
// (docs/contributing.md, "Replay fixtures"); regenerating the fixture instead would hide the break.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker, type ReplayResult } from '@temporalio/worker';
import { AesGcmPayloadCodec, FAILURE_CONVERTER_PATH } from '../../config/temporal.js';
import * as workflows from '../../workflows/index.js';
import { LEGACY_WORKFLOW_TYPES } from '../../workflows/legacy-names.js';
import {
  FIXTURES_DIR,
  type History,
  PAYLOAD_KEY_FILE,
  readFixture,
  readFixtureIndex,
  workflowTypes,
} from '../replay/fixtures.js';
import { fixtureCommits } from '../helpers/fixture-history.js';

const index = readFixtureIndex();
/**
 * Workflow types added after the fixtures were last recorded. A fixture cannot be recorded in the
 * change that adds its type (it would come from a change to workflow code); the next recording
 * adds it and takes the type off this list (docs/contributing.md, "Adding fixtures").
 */
const AWAITING_FIXTURE: string[] = [];
const codec = new AesGcmPayloadCodec(Buffer.from(readFileSync(PAYLOAD_KEY_FILE, 'utf8').trim(), 'hex'));
// the build's workflow code, bundled as the worker's is (./dev test builds before the unit tests)
const workflowsPath = fileURLToPath(new URL('../../dist/workflows/index.js', import.meta.url));
if (!existsSync(workflowsPath)) throw new Error(`${workflowsPath} is missing: build first (npm run build)`);
const replayOptions = {
  workflowsPath,
  dataConverter: { payloadCodecs: [codec], failureConverterPath: FAILURE_CONVERTER_PATH },
};

async function replay(histories: { workflowId: string; history: History }[]): Promise<ReplayResult[]> {
  const results: ReplayResult[] = [];
  for await (const r of Worker.runReplayHistories(replayOptions, histories)) results.push(r);
  return results;
}

test('every recorded history replays against the current workflow code', async () => {
  const results = await replay(index.fixtures.map((e) => ({ workflowId: e.workflowId, history: readFixture(e) })));
  const failed = results
    .filter((r) => r.error)
    .map((r) => `${r.workflowId}: ${r.error instanceof Error ? r.error.message : String(r.error)}`);
  expect(failed).toEqual([]);
  expect(results).toHaveLength(index.fixtures.length);
}, 300_000);

test('every workflow type the worker registers has a recorded history, under its name or its earlier one', () => {
  const registered = workflowTypes(workflows);
  const recorded = new Set(index.fixtures.map((f) => f.workflowType));
  const earlier = LEGACY_WORKFLOW_TYPES as Record<string, string>;
  expect(
    registered.filter((t) => !recorded.has(t) && !recorded.has(earlier[t] ?? '') && !AWAITING_FIXTURE.includes(t)),
  ).toEqual([]);
  // a type that has its fixture now leaves the waiting list
  expect(AWAITING_FIXTURE.filter((t) => recorded.has(t))).toEqual([]);
  // an earlier name stays registered while a fixture uses it
  expect(Object.values(earlier).filter((t) => !registered.includes(t))).toEqual([]);
});

test('a history that no longer matches the code is caught', async () => {
  // the same history with its first activity renamed: what a reordered or renamed step looks like
  const entry = index.fixtures.find((f) => readFixture(f).events?.some((e) => e.activityTaskScheduledEventAttributes));
  expect(entry).toBeDefined();
  const history = readFixture(entry!);
  const scheduled = history.events!.find((e) => e.activityTaskScheduledEventAttributes)!;
  scheduled.activityTaskScheduledEventAttributes!.activityType = { name: 'someOtherActivity' };
  const [result] = await replay([{ workflowId: entry!.workflowId, history }]);
  expect(result?.error).toBeDefined();
}, 120_000);

test('fixtures are added, never regenerated with a workflow change', () => {
  // the commit that added or last changed a fixture must not also change workflow code: a fixture
  // re-recorded together with the change it should catch would make this suite unable to fail
  for (const f of index.fixtures) {
    for (const c of fixtureCommits(`${FIXTURES_DIR}/${f.file}`)) {
      expect({ fixture: f.file, commit: c.commit, workflowFiles: c.workflowFiles }).toEqual({
        fixture: f.file,
        commit: c.commit,
        workflowFiles: [],
      });
    }
  }
});
