// Records replay fixtures: workflow histories read from a Temporal server after the integration
// tests ran on it, one file per workflow type and outcome (docs/contributing.md, "Replay fixtures").
//
//   node dist/test/replay/record.js [--address 127.0.0.1:7233] [--namespace osbackup]
//        [--out test/fixtures/histories] [--types a,b] [--per-type 4] [--recorded-from <commit>]
//        [--variant name]
//
// --variant names what the recorded code does differently from the fixtures of the same outcome
// already kept (e.g. a path behind a new patched() marker): the shapes become "<outcome>-<name>",
// so those runs are added beside the old ones instead of being skipped as already covered.
//
// Histories stay exactly as the server holds them, payloads encrypted: the lab must have run with
// LAB_PAYLOAD_KEY_FILE=test/fixtures/histories/payload.key so the replay test can decode them.
// A fixture that exists is never rewritten: it is what the code of its day did, and the point of
// the fixture is that later code must still replay it. New outcomes are added beside it.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { AesGcmPayloadCodec } from '../../config/temporal.js';
import {
  fixtureShape,
  type FixtureIndex,
  historyToFixture,
  INDEX_FILE,
  PAYLOAD_KEY_FILE,
  type RecordedExecution,
  workflowTypes,
} from './fixtures.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

async function main(): Promise<void> {
  const address = arg('address', '127.0.0.1:7233');
  const namespace = arg('namespace', 'osbackup');
  const out = arg('out', 'test/fixtures/histories');
  const perType = Number(arg('per-type', '4'));
  const variant = arg('variant', '');
  const only = arg('types', '')
    .split(',')
    .filter((t) => t);
  const types = only.length ? only : workflowTypes(await import('../../workflows/index.js'));
  // the code that wrote the histories: the checkout the tests ran from, which may not be this one
  const commit = arg('recorded-from', '') || execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  const indexPath = join(out, INDEX_FILE);
  const index: FixtureIndex = existsSync(indexPath)
    ? (JSON.parse(readFileSync(indexPath, 'utf8')) as FixtureIndex)
    : { fixtures: [] };
  const connection = await Connection.connect({ address });
  // listing decodes memos: with the fixture key, which also proves the lab ran with it
  const key = Buffer.from(readFileSync(PAYLOAD_KEY_FILE, 'utf8').trim(), 'hex');
  const client = new Client({ connection, namespace, dataConverter: { payloadCodecs: [new AesGcmPayloadCodec(key)] } });
  try {
    for (const type of types) {
      const runs: { workflowId: string; runId: string; status: string; length: number }[] = [];
      for await (const e of client.workflow.list({ query: `WorkflowType = '${type}'` })) {
        if (e.status.name !== 'RUNNING')
          runs.push({ workflowId: e.workflowId, runId: e.runId, status: e.status.name, length: e.historyLength });
      }
      // the longest run of each outcome walks the most of the workflow's code
      runs.sort((a, b) => b.length - a.length);
      const taken = new Set(index.fixtures.filter((f) => f.workflowType === type).map((f) => f.shape));
      const before = taken.size;
      let added = 0;
      for (const run of runs.slice(0, 40)) {
        if (taken.size - (variant ? before : 0) >= perType) break;
        const history = await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
        const recorded: RecordedExecution = { status: run.status, events: history.events ?? [] };
        const shape = fixtureShape(recorded) + (variant ? `-${variant}` : '');
        if (taken.has(shape)) continue;
        const file = join(type, `${shape}.json`);
        if (existsSync(join(out, file))) continue;
        mkdirSync(join(out, type), { recursive: true });
        writeFileSync(join(out, file), historyToFixture(history));
        index.fixtures.push({
          file,
          workflowType: type,
          workflowId: run.workflowId,
          shape,
          events: run.length,
          recordedFrom: commit,
        });
        taken.add(shape);
        added++;
      }
      console.log(
        `${type}: ${added} added, ${taken.size} in all${runs.length ? '' : ' (no closed run on the server)'}`,
      );
    }
  } finally {
    await connection.close();
  }
  index.fixtures.sort((a, b) => a.file.localeCompare(b.file));
  writeFileSync(indexPath, JSON.stringify(index, null, 2) + '\n');
}

await main();
