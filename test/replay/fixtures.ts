// Replay fixtures: recorded workflow histories kept in test/fixtures/histories, replayed by the
// unit suite against the current workflow code. What a fixture is called and how it is read.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import proto from '@temporalio/proto';

export type History = proto.temporal.api.history.v1.IHistory;
const { History } = proto.temporal.api.history.v1;
// protobufjs's own object form (enums by name, 64-bit numbers and bytes as strings): readable,
// and read back by the same library. The SDK's historyToJSON cannot be used here: it trips over
// the two protobufjs copies npm installs beside @temporalio/common and @temporalio/proto.
const OBJECT_FORM = { longs: String, enums: String, bytes: String } as const;

export const FIXTURES_DIR = 'test/fixtures/histories';
export const INDEX_FILE = 'index.json';
/** The test payload key the fixtures' payloads are encrypted with (the lab's, when they were recorded). */
export const PAYLOAD_KEY_FILE = join(FIXTURES_DIR, 'payload.key');

export interface FixtureEntry {
  /** Relative to the fixtures folder: <workflow type>/<shape>.json */
  file: string;
  workflowType: string;
  workflowId: string;
  shape: string;
  events: number;
  /** The commit whose workflow code wrote the history. */
  recordedFrom: string;
}

export interface FixtureIndex {
  fixtures: FixtureEntry[];
}

export interface RecordedExecution {
  status: string;
  events: proto.temporal.api.history.v1.IHistoryEvent[];
}

/**
 * What paths a history took, as a file name: its outcome, and whether it received signals or
 * updates (an approval gate, a stop request) or started children. Two runs of the same shape
 * replay mostly the same code, so the recorder keeps one of each.
 */
export function fixtureShape(r: RecordedExecution): string {
  const has = (k: keyof proto.temporal.api.history.v1.IHistoryEvent) => r.events.some((e) => e[k] != null);
  const parts = [r.status.toLowerCase().replace(/_/g, '-')];
  if (has('workflowExecutionSignaledEventAttributes')) parts.push('signals');
  if (has('workflowExecutionUpdateAcceptedEventAttributes')) parts.push('updates');
  if (has('startChildWorkflowExecutionInitiatedEventAttributes')) parts.push('children');
  if (has('timerStartedEventAttributes')) parts.push('timers');
  return parts.join('-');
}

export function readFixtureIndex(dir = FIXTURES_DIR): FixtureIndex {
  return JSON.parse(readFileSync(join(dir, INDEX_FILE), 'utf8')) as FixtureIndex;
}

export function historyToFixture(history: History): string {
  return JSON.stringify(History.toObject(History.fromObject(history), OBJECT_FORM), null, 1) + '\n';
}

export function readFixture(entry: FixtureEntry, dir = FIXTURES_DIR): History {
  return History.fromObject(JSON.parse(readFileSync(join(dir, entry.file), 'utf8')) as Record<string, unknown>);
}

/** The workflow types a workflows module registers: every function it exports, by export name. */
export function workflowTypes(mod: object): string[] {
  return Object.entries(mod)
    .filter(([, v]) => typeof v === 'function')
    .map(([k]) => k)
    .sort();
}
