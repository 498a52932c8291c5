// What one binlog compaction merge costs on this machine: N real sealed pieces (zstd → gpg with
// the passphrase, as the archiver writes them) of one synthetic binlog file in a folder
// repository, then the plan, the merge (hash + decrypt each piece, event walk, seal, round trip,
// publish, re-hash) and the removal of the pieces, timed.
// Run: node dist/bench/binlog-compaction.js [pieces] [transactions per piece]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Env } from '../activities/deps.js';
import type { Config } from '../config/schema.js';
import { binlogArchiveSchema } from '../config/schema.js';
import { sealBuffer } from '../activities/control-plane/sealed.js';
import { scanEvents } from '../activities/pitr/events.js';
import { mergeBinlogSegments, planBinlogCompaction, removeBinlogPieces } from '../activities/pitr/compact.js';
import { binlogSegmentId, SEGMENT_FILE, type BinlogManifest } from '../core/pitr/segments.js';
import { artifactDir, MANIFEST_FORMAT, RECIPE_FILE } from '../core/manifest/manifest.js';
import { retentionPolicySchema } from '../core/retention/policy.js';
import { binlogFile } from '../test/helpers/binlog-file.js';

const pieces = Number(process.argv[2] ?? 240);
const perPiece = Number(process.argv[3] ?? 5);
const root = mkdtempSync(join(tmpdir(), 'osb-bench-compact-'));
const config = {
  repository: { name: 'local', path: join(root, 'repo'), retention: retentionPolicySchema.parse({}) },
  targets: {},
  stateDir: join(root, 'state'),
  encryption: { passphrase: { env: 'BENCH_PASS' }, recipientKeyFiles: [] },
  clouds: {
    c: {
      database: {
        host: 'ctl1',
        binlog: binlogArchiveSchema.parse({ compactAfterMinutes: 1, compactMaxPieces: 20_000 }),
      },
    },
  },
} as unknown as Config;
const env = new Env({ config, env: { BENCH_PASS: 'bench-passphrase' }, ssh: undefined as never });

async function main(): Promise<void> {
  const t0 = Date.UTC(2026, 10, 30, 9) / 1000;
  const data = binlogFile(Array.from({ length: pieces * perPiece }, (_, i) => t0 + i));
  // cut after the format description and then every perPiece transactions (99 bytes each)
  const cuts = [0, ...Array.from({ length: pieces }, (_, i) => 107 + (i + 1) * perPiece * 99)];
  const keys = await env.gpgKeys();
  const s0 = performance.now();
  for (let i = 0; i < pieces; i++) {
    const bytes = data.subarray(cuts[i]!, cuts[i + 1]!);
    const e = scanEvents(bytes, cuts[i]!);
    const id = binlogSegmentId('ctl1', 'mysql-bin.000001', cuts[i]!);
    const staging = await env.repo.createStaging(id);
    const s = await sealBuffer(keys, 3, bytes, join(staging, SEGMENT_FILE));
    const at = new Date((t0 + i * perPiece) * 1000).toISOString();
    const m: BinlogManifest = {
      formatVersion: MANIFEST_FORMAT,
      id,
      cloud: 'c',
      component: 'binlog',
      kind: 'binlog',
      parentId: null,
      startedAt: at,
      completedAt: at,
      workflowId: 'bench',
      source: { host: 'ctl1', address: '10.0.0.1', containerRuntime: 'none', serverId: 1 },
      binlog: {
        file: 'mysql-bin.000001',
        sequence: 1,
        startPosition: cuts[i]!,
        endPosition: cuts[i + 1]!,
        ...e,
        archivedThrough: at,
        previous: null,
      },
      artifact: {
        file: SEGMENT_FILE,
        bytes: s.bytes,
        sha256: s.sha256,
        streamBytes: bytes.length,
        layers: ['binlog', 'zstd', 'openpgp'],
        compression: { format: 'zstd', level: 3, where: 'worker' },
        encryption: { format: 'openpgp', cipher: 'AES256', passphrase: true, recipientFingerprints: [] },
      },
      tools: { zstd: 'z', gpg: 'g', osbackup: 'bench' },
      restoreRecipe: RECIPE_FILE,
    };
    await env.repo.publish(staging, artifactDir('c', 'binlog', id), m, {});
  }
  const sealMs = (performance.now() - s0) / pieces;
  const p0 = performance.now();
  const plan = await planBinlogCompaction(env, 'c');
  const planMs = performance.now() - p0;
  const run = plan.merge[0]!;
  const m0 = performance.now();
  const r = await mergeBinlogSegments(env, { cloud: 'c', run, workflowId: 'bench' });
  const mergeMs = performance.now() - m0;
  const r0 = performance.now();
  const gone = await removeBinlogPieces(
    env,
    { cloud: 'c', pieces: run.pieces.map((id) => ({ id, by: run.id })) },
    async () => undefined,
  );
  const removeMs = performance.now() - r0;
  console.log(
    JSON.stringify({
      pieces,
      bytesPerPiece: perPiece * 99,
      sealOnePieceMs: +sealMs.toFixed(1),
      planMs: +planMs.toFixed(0),
      mergeMs: +mergeMs.toFixed(0),
      mergePerPieceMs: +(mergeMs / pieces).toFixed(1),
      mergedStreamBytes: r.streamBytes,
      mergedBytes: r.bytes,
      removed: gone.removed.length,
      removeMs: +removeMs.toFixed(0),
    }),
  );
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => rmSync(root, { recursive: true, force: true }));
