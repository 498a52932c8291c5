// bench/results.md from one run's figures: medians of every case, the ratios against the
// baselines measured in the same run, and each target marked met or missed.
import type { BackupCaseResult } from './cases/backup-stream.js';
import type { OrchestrationResult } from './cases/orchestration.js';
import type { RestoreCaseResult } from './cases/restore-chain.js';
import type { RpoCaseResult } from './cases/pitr-rpo.js';
import type { GaleraStallResult } from './cases/galera-stall.js';
import type { DrillCaseResult } from './cases/dr-drill.js';
import type { RebuildCaseResult } from './cases/dr-rebuild.js';
import type { BigCaseResult } from './cases/big-database.js';
import type { S3RepoCaseResult } from './cases/s3-repository.js';
import { renderClusterThroughput, type ThroughputResult } from './cases/cluster-throughput.js';
import { ratio, summarize, type Summary } from './lib/stats.js';

export interface Results {
  date: string;
  cores: number;
  memGiB: number;
  versions: Record<string, string>;
  reps: number;
  seedReps: number;
  backups: BackupCaseResult[];
  restore?: RestoreCaseResult;
  orchestration?: OrchestrationResult;
  rpo?: RpoCaseResult;
  galera?: GaleraStallResult;
  drill?: DrillCaseResult;
  rebuild?: RebuildCaseResult;
  big?: BigCaseResult;
  s3Repo?: S3RepoCaseResult;
  /** One worker's orchestration throughput on the lab's Temporal cluster. */
  throughput?: ThroughputResult;
  /** The Cinder fan-out section as its case renders it. */
  fanoutMarkdown?: string;
  /** The history-size section as its case renders it. */
  historyMarkdown?: string;
  /** When each case was last measured (ISO); the sections of the others come from earlier runs. */
  measuredAt?: Record<string, string>;
  wallSeconds?: number;
}

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '–');
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '–');
const verdict = (ok: boolean) => (ok ? '**met**' : '**missed**');

function row(s: Summary, ref: number | null, note = ''): string {
  return `| ${s.name} | ${s.runs} | ${f2(s.seconds)} | ${f2(s.minSeconds)}–${f2(s.maxSeconds)} | ${f1(s.mbps ?? NaN)} | ${ref !== null && s.mbps ? f2(s.mbps / ref) : '–'} | ${note} |`;
}

function backupSection(b: BackupCaseResult): string[] {
  const osb = summarize('osbackup, end to end (list tables, stream, publish)', b.samples.osbackup!);
  const streamSamples = b.samples.osbackup!.map((s) => ({ seconds: s.extra!.streamPhaseSeconds!, bytes: s.bytes }));
  const osbStream = summarize(
    'osbackup, stream phase (mariabackup | zstd on the host → ssh2 → gpg → sha256 → file)',
    streamSamples,
  );
  const remote = summarize(
    'hand (a): ssh `mariabackup | zstd -T0` | gpg | tee >(sha256sum) > file',
    b.samples.handRemoteZstd!,
  );
  const local = summarize(
    'hand (a): ssh `mariabackup` | zstd -T0 | gpg | tee >(sha256sum) > file',
    b.samples.handLocalZstd!,
  );
  const ceiling = summarize(
    'ceiling: on the controller, no SSH: mariabackup | zstd -T0 | gpg > file',
    b.samples.ceiling!,
  );
  const parallel = b.samples.handRemoteParallel
    ? summarize('hand (a) with `mariabackup --parallel=4`', b.samples.handRemoteParallel)
    : null;
  const seed = summarize('seed (b): mariabackup to a folder; tar czf; gpg; sha256sum; scp', b.samples.seed!);
  const best = (remote.mbps ?? 0) >= (local.mbps ?? 0) ? remote : local;
  const ref = best.mbps!;
  const rStream = ratio(osbStream.mbps!, ref);
  const rE2e = ratio(osb.mbps!, ref);
  const rSeed = ratio(osb.mbps!, seed.mbps!);
  return [
    `### Backup stream — ${b.label} (${f1(b.streamBytes / 1e6)} MB xbstream, ${f1(b.storedBytes / 1e6)} MB stored)`,
    '',
    'Throughput is the xbstream size (the data mariabackup reads) over the wall time of each pipeline.',
    '',
    '| pipeline | runs | median s | min–max s | MB/s | × best hand (a) | |',
    '|---|---|---|---|---|---|---|',
    row(osb, ref),
    row(osbStream, ref),
    row(remote, ref, best === remote ? 'best (a)' : ''),
    row(local, ref, best === local ? 'best (a)' : ''),
    ...(parallel ? [row(parallel, ref, 'more copy threads')] : []),
    row(ceiling, ref, 'ceiling'),
    row(seed, ref),
    '',
    `- osbackup end to end (start to manifest published) vs best hand pipeline: **${f2(rE2e)}×** (target ≥ 0.9×: ${verdict(rE2e >= 0.9)}); stream phase ${f2(rStream)}×.`,
    `- osbackup end to end vs the seed's procedure: **${f2(rSeed)}×** (target ≥ 3×: ${verdict(rSeed >= 3)}).`,
    `- worker peak RSS (VmHWM, fresh worker for this size, ${osb.runs} backups): **${f1(b.workerPeakRssMiB)} MiB** (target ≤ 256 MiB: ${verdict(b.workerPeakRssMiB <= 256)}).`,
    ...(b.rowsRead !== undefined
      ? [
          `- user-table rows the live server read during osbackup's backup (its userstat counters, nothing else running): **${b.rowsRead}** (target 0: ${verdict(b.rowsRead === 0)}).`,
        ]
      : []),
    ...(parallel
      ? [
          `- \`mariabackup --parallel=4\` in the hand pipeline: ${f2(ratio(parallel.mbps!, remote.mbps!))}× the same pipe without it.`,
        ]
      : []),
    '',
  ];
}

/** Sections of cases this results file has no figures for, by the start of their heading. */
const SECTION_OF: Record<string, string> = {
  orchestration: '## 3. Orchestration',
  'pitr-rpo': '## 5. Binlog archiving',
  galera: '## 6. Galera',
  fanout: '## 7. Cinder snapshot',
  drill: '## 8. DR drill',
  rebuild: '## 9. DR rebuild',
  history: '## 13. History size',
  's3-repo': '## 12. S3 repository',
  throughput: '## 14. One worker',
};

/** A section of an earlier results.md, up to the next heading or marker comment. */
function earlierSection(previous: string, heading: string): string | null {
  const at = previous.indexOf(heading);
  if (at < 0) return null;
  const rest = previous.slice(at);
  const end = rest.slice(1).search(/\n## |\n<!--/);
  // the note this function appends is not carried along: it is appended once, below
  return (end < 0 ? rest : rest.slice(0, end + 1)).replace(/\n+\(Figures of an earlier run[^\n]*\)/g, '').trimEnd();
}

export function renderResults(r: Results, previous = ''): string {
  const out: string[] = [
    '# osbackup benchmarks',
    '',
    `Measured ${r.date} by \`npm run bench\` on the lab (network-namespace controllers, sshd, MariaDB ${r.versions.mariabackup}).`,
    `Machine: **${r.cores} cores** (${r.versions.cpu}), ${f1(r.memGiB)} GiB RAM. Tools: Node ${r.versions.node}, ${r.versions.zstd}, ${r.versions.gpg}, ${r.versions.openssh}.`,
    `Every figure is the median of ${r.reps} runs (the seed's procedure: ${r.seedReps}); every ratio compares figures measured in the same case run. Each case runs alone on a fresh lab (\`./dev bench\`); when each was last measured:`,
    '',
    ...Object.entries(r.measuredAt ?? {})
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([c, at]) => `- ${c}: ${at}`),
    '',
    'The 2 cores may be shared with other builds and tests while a case runs: every time is an upper bound.',
    '',
    '## 1. Backup stream',
    '',
  ];
  for (const b of r.backups) out.push(...backupSection(b));
  if (r.restore) {
    const o = summarize('osbackup restore, end to end (verify off)', r.restore.samples.osbackup);
    const h = summarize(
      'by hand: every member gpg | ssh zstd -d | mbstream at once (SHA-256 on the way), prepare, apply each, stop, move aside, move back, start',
      r.restore.samples.hand,
    );
    const rr = ratio(o.seconds, h.seconds);
    const ex = o.extra;
    const mb = (r.restore.memberStreamBytes ?? []).map((b) => f1(b / 1e6));
    out.push(
      `## 2. Restore — full + ${r.restore.chain.length - 1} incrementals (${mb.length ? `${mb[0]} MB + ${mb.slice(1).join(' + ')} MB of xbstream, ` : ''}${f1(r.restore.chainBytes / 1e6)} MB stored)`,
      '',
      '| path | runs | median s | min–max s |',
      '|---|---|---|---|',
      `| ${o.name} | ${o.runs} | ${f2(o.seconds)} | ${f2(o.minSeconds)}–${f2(o.maxSeconds)} |`,
      `| ${h.name} | ${h.runs} | ${f2(h.seconds)} | ${f2(h.minSeconds)}–${f2(h.maxSeconds)} |`,
      '',
      `- osbackup / hand: **${f2(rr)}×** (target ≤ 1.2×: ${verdict(rr <= 1.2)}).`,
      `- osbackup's own step times (medians): stream ${f2(ex.streamSeconds ?? NaN)} s (sum over members), prepare + apply ${f2(ex.prepareSeconds ?? NaN)} s, move back ${f2(ex.copyBackSeconds ?? NaN)} s.`,
      ...(r.restore.gpgKdfSeconds !== undefined
        ? [
            `- one gpg passphrase key derivation: ${f2(r.restore.gpgKdfSeconds)} s, paid once per member (${r.restore.chain.length} here) by osbackup and by hand alike.`,
          ]
        : []),
      '',
    );
  }
  if (r.orchestration) {
    const o = r.orchestration;
    out.push(
      '## 3. Orchestration overhead',
      '',
      `A workflow of ${o.steps} no-op activities in a row against one of none, on the dev server, with osbackup's payload codec: **${f1(o.perActivityMs)} ms per activity**; an empty workflow takes ${f1(o.emptyWorkflowMs)} ms start to result (medians of ${o.samples.steps.length}: ${o.samples.steps.map((s) => f2(s.seconds)).join(', ')} s).`,
      '',
    );
  }
  if (r.backups.length) {
    out.push(
      '## 4. Worker memory while streaming',
      '',
      '| backup | xbstream MB | worker peak RSS MiB |',
      '|---|---|---|',
    );
    for (const b of r.backups) out.push(`| ${b.label} | ${f1(b.streamBytes / 1e6)} | ${f1(b.workerPeakRssMiB)} |`);
    const rss = r.backups.map((b) => b.workerPeakRssMiB);
    const flat = ratio(Math.max(...rss), Math.min(...rss));
    out.push(
      '',
      `Largest / smallest peak: ${f2(flat)}× for ${f1(ratio(Math.max(...r.backups.map((b) => b.streamBytes)), Math.min(...r.backups.map((b) => b.streamBytes))))}× the data (flat: streaming keeps a bounded window in memory; zstd and gpg run as their own processes).`,
      '',
    );
  }
  if (r.rpo) {
    const p = r.rpo;
    out.push(
      '## 5. Binlog archiving — achieved RPO under steady writes',
      '',
      `pitrArchiveWorkflow on ctl1 while a writer commits ${p.tps} transactions/s for ${p.seconds} s (${p.writes} writes); segments cut at least every ${p.segmentSeconds} s; ${p.segments} segments, ${f1(p.storedBytes / 1e6)} MB stored.`,
      '',
      '| figure | median s | p95 s | max s |',
      '|---|---|---|---|',
      `| achieved RPO the workflow reports (now − last catch-up), sampled every 250 ms | ${f2(p.reported.median)} | ${f2(p.reported.p95)} | ${f2(p.reported.max)} |`,
      `| exposure of each write (commit → archive holds it), measured from outside | ${f2(p.exposure.median)} | ${f2(p.exposure.p95)} | ${f2(p.exposure.max)} |`,
      '',
      `- worst RPO the workflow saw at a cut: ${f2(p.reported.worst)} s; target ${p.rpoTargetSeconds} s: ${verdict(p.reported.max <= p.rpoTargetSeconds)}.`,
      '',
    );
  }
  if (r.galera) {
    const g = r.galera;
    out.push(
      '## 6. Galera — longest write stall during a backup',
      '',
      `Full backups of the lab's three-node cluster from a non-writer (desynced for the stream) while one connection writes to the writer at up to ${g.rate} writes/s; each write's wait measured from outside. Bound the tests hold: 20 s.`,
      '',
      '| donor | backup s | xbstream MB | writes | longest wait ms | failed writes |',
      '|---|---|---|---|---|---|',
      ...g.runs.map(
        (x) =>
          `| ${x.donor} | ${f1(x.backupSeconds)} | ${f1(x.streamBytes / 1e6)} | ${x.writes} | ${x.maxStallMs.toFixed(0)} | ${x.failures} |`,
      ),
      '',
    );
  }
  if (r.drill) {
    out.push(
      ...rtoSection(
        "## 8. DR drill — RTO of the lab's OpenStack databases",
        `drDrillWorkflow on the \`openstack\` cloud (os1's service databases, restore point ${r.drill.backupId}, VERIFIED) onto ctl2: the restore as a child workflow, then the seed's counts and the recorded checksums.`,
        summarize('RTO (restore + integrity checks), from the drill records', r.drill.samples),
      ),
    );
  }
  if (r.rebuild) {
    out.push(
      ...rtoSection(
        "## 9. DR rebuild — RTO of the lab's OpenStack from a wiped host",
        `drRebuildWorkflow on the \`openstack\` cloud after \`openstack.sh wipe\` (host, database, keys and the deploy host's Kolla tree lost), database backup ${r.rebuild.backupId}, both gates approved in advance, volumes and images left out (the control plane's recovery; the integration test covers the resources).`,
        summarize(
          'RTO (configs → deploy → database → services → keys → verify), from the rebuild records',
          r.rebuild.samples,
        ),
      ),
    );
  }
  if (r.fanoutMarkdown) out.push(r.fanoutMarkdown);
  if (r.big) out.push(...bigSection(r.big));
  if (r.historyMarkdown) out.push(r.historyMarkdown);
  if (r.s3Repo) out.push(...s3RepoSection(r.s3Repo));
  if (r.throughput) out.push(renderClusterThroughput(r.throughput, r.measuredAt?.throughput ?? r.date));
  // cases not measured since figures were kept per case: their sections as an earlier run wrote them
  const have: Record<string, unknown> = {
    orchestration: r.orchestration,
    'pitr-rpo': r.rpo,
    galera: r.galera,
    fanout: r.fanoutMarkdown,
    history: r.historyMarkdown,
    drill: r.drill,
    rebuild: r.rebuild,
    's3-repo': r.s3Repo,
    throughput: r.throughput,
  };
  for (const [c, heading] of Object.entries(SECTION_OF)) {
    const old = have[c] ? null : earlierSection(previous, heading);
    if (old)
      out.push(
        old,
        '',
        `(Figures of an earlier run, kept from the previous results.md; \`BENCH_CASES=${c} ./dev bench\` measures them again.)`,
        '',
      );
  }
  out.push(...fasterPaths(r));
  return out.join('\n') + '\n';
}

/** Each faster path that was tried, with the figure that decided whether it stayed. */
function fasterPaths(r: Results): string[] {
  const lines: string[] = [];
  const withParallel = r.backups.filter((b) => b.samples.handRemoteParallel);
  for (const b of withParallel) {
    const p = summarize('', b.samples.handRemoteParallel!);
    const base = summarize('', b.samples.handRemoteZstd!);
    const x = ratio(p.mbps!, base.mbps!);
    lines.push(
      `- \`mariabackup --parallel=4\` (${b.label}): ${f2(x)}× the throughput of the same pipe without it — ${x >= 1.05 ? 'it helps: worth a setting' : 'no gain on this machine (the stream is bound by zstd and the link, not by the copy threads): not used'}.`,
    );
  }
  lines.push(
    '- zstd threads on the host (`-T0`): kept; the stream phase matches the best hand pipeline, which uses the same (section 1).',
  );
  if (r.restore?.gpgKdfSeconds !== undefined) {
    const kdf = r.restore.gpgKdfSeconds;
    const o = summarize('', r.restore.samples.osbackup);
    lines.push(
      `- fewer gpg key derivations: one costs ${f2(kdf)} s, ${r.restore.chain.length} for this chain = ${f1((100 * kdf * r.restore.chain.length) / o.seconds)} % of the restore — ${kdf * r.restore.chain.length > 0.05 * o.seconds ? 'worth a session key per chain' : 'not worth weakening or reworking the encryption: kept as is'}.`,
    );
  }
  if (r.restore)
    lines.push(
      `- \`--move-back\` instead of \`--copy-back\` (the old datadir is moved aside anyway): kept; the move into place takes ${f2(summarize('', r.restore.samples.osbackup).extra.copyBackSeconds ?? NaN)} s for the chain above (a rename on one filesystem), where a copy writes the whole datadir again.`,
    );
  lines.push(
    "- the chain's next member streams while the current one is prepared (two streams at a time after the full): kept.",
    '- one read of the repository per restore (each member hashed while it streams, no separate pre-read): kept; it halves what a restore reads from the repository (decision 0008).',
    '- no live facts passes and no re-read at publish on a local disk (decision 0007): kept; the end-to-end backup is the stream phase plus a few seconds of orchestration.',
  );
  return ['## 11. Faster paths — kept and dropped', '', ...lines, ''];
}

function bigSection(b: BigCaseResult): string[] {
  const e2e = ratio(b.hand.seconds, b.full.seconds);
  const seed = b.seed ? ratio(b.seed.seconds, b.full.seconds) : NaN;
  const mbps = (s: { seconds: number; bytes?: number }) => f1((s.bytes ?? NaN) / 1e6 / s.seconds);
  const steps = (x: Record<string, number>) =>
    Object.entries(x)
      .map(([k, v]) => `${k.replace(/Seconds$/, '')} ${f1(v)} s`)
      .join(', ');
  return [
    `## 10. Scale — a ${f1(b.datadirBytes / 1e9)} GB database`,
    '',
    `ctl2 serving the lab's generator at ${b.rows} nova.instances rows (${f1(b.datadirBytes / 1e9)} GB of datadir, ${f1(b.streamBytes / 1e9)} GB of xbstream, ${f1(b.storedBytes / 1e9)} GB stored), page cache dropped before the hand pipeline and before the full backup. One run each.`,
    '',
    '| step | s | MB/s | |',
    '|---|---|---|---|',
    `| osbackup full backup, end to end (start to manifest published) | ${f1(b.full.seconds)} | ${mbps(b.full)} | stream phase ${f1(b.fullStreamSeconds)} s |`,
    `| hand (a): ssh \`mariabackup | zstd -T0\` | gpg | tee >(sha256sum) > file | ${f1(b.hand.seconds)} | ${mbps(b.hand)} | |`,
    ...(b.seed
      ? [`| seed (b): folder, tar czf, gpg, sha256sum, scp | ${f1(b.seed.seconds)} | ${mbps(b.seed)} | |`]
      : []),
    `| osbackup incremental after changes (${f1((b.incremental.bytes ?? 0) / 1e6)} MB xbstream, ${f1(b.incrementalBytes / 1e6)} MB stored) | ${f1(b.incremental.seconds)} | | |`,
    `| restore of full + incremental onto an empty datadir, verified (first reading of the facts) | ${f1(b.restore.seconds)} | | ${steps(b.restore.steps)} |`,
    `| restore to a point in time between the changes (${b.pitr.transactions} transactions replayed), verified | ${f1(b.pitr.seconds)} | | ${steps(b.pitr.steps)} |`,
    '',
    `- osbackup end to end vs best hand pipeline: **${f2(e2e)}×** (target ≥ 0.9×: ${verdict(e2e >= 0.9)}).`,
    ...(b.seed
      ? [`- osbackup end to end vs the seed's procedure: **${f2(seed)}×** (target ≥ 3×: ${verdict(seed >= 3)}).`]
      : []),
    `- user-table rows the live server read during the full backup: **${b.rowsReadByBackup}** (target 0: ${verdict(b.rowsReadByBackup === 0)}).`,
    `- every activity of the ${b.workflows} workflows at attempt 1: ${b.retries.length === 0 ? '**yes**' : `**no**: ${b.retries.map((x) => `${x.activity} attempt ${x.attempt} in ${x.workflow}`).join('; ')}`}.`,
    `- restored data equal to the source (counts and CHECKSUM TABLE of the recorded tables, read outside osbackup): chain ${b.restore.equal ? '**yes**' : '**no**'}; point in time (the marks written before it, none after) ${b.pitr.equal ? '**yes**' : '**no**'}.`,
    `- worker peak RSS over the whole case (VmHWM, sampled every second): **${f1(b.workerPeakRssMiB)} MiB** (target ≤ 256 MiB: ${verdict(b.workerPeakRssMiB <= 256)})${
      b.workerPeakRssByStepMiB
        ? `; by step: ${Object.entries(b.workerPeakRssByStepMiB)
            .map(([k, v]) => `${k} ${f1(v)}`)
            .join(', ')} MiB`
        : ''
    }.`,
    '',
  ];
}

/** One recovery run's figures: its RTO and each step's median, from the runs' own records. */
function rtoSection(title: string, intro: string, d: Summary): string[] {
  const steps = Object.keys(d.extra).filter((k) => k !== 'workflowSeconds');
  return [
    title,
    '',
    intro,
    '',
    '| figure | runs | median s | min–max s |',
    '|---|---|---|---|',
    `| ${d.name} | ${d.runs} | ${f2(d.seconds)} | ${f2(d.minSeconds)}–${f2(d.maxSeconds)} |`,
    ...steps.map((k) => `| step: ${k} | ${d.runs} | ${f2(d.extra[k]!)} | |`),
    `| the whole workflow (plan and record included), start to result | ${d.runs} | ${f2(d.extra.workflowSeconds ?? NaN)} | |`,
    '',
  ];
}

function s3RepoSection(x: S3RepoCaseResult): string[] {
  const lb = summarize(
    'backup, local repository (staged file on the worker, then moved into place)',
    x.samples.localBackup,
  );
  const sb = summarize(
    'backup, S3 repository (multipart upload, HEAD-confirmed, no file on the worker)',
    x.samples.s3Backup,
  );
  const lr = summarize('restore onto ctl2, local repository', x.samples.localRestore);
  const sr = summarize('restore onto ctl2, S3 repository (GET streamed)', x.samples.s3Restore);
  const line = (s: Summary) =>
    `| ${s.name} | ${s.runs} | ${f2(s.seconds)} | ${f2(s.minSeconds)}–${f2(s.maxSeconds)} | ${f1(s.mbps ?? NaN)} |`;
  return [
    '## 12. S3 repository — backup and restore against the local repository',
    '',
    `The lab's ctl1 database with incompressible rows added: ${f1(x.streamBytes / 1e6)} MB of xbstream, ${f1(x.storedBytes / 1e6)} MB stored. The S3 repository is the lab's OpenStack Swift (s3api) on ctl1, parts of ${x.partSizeMiB} MiB, ${x.queueSize} in flight; MB/s is xbstream MB over end-to-end seconds.`,
    '',
    '| path | runs | median s | min–max s | MB/s |',
    '|---|---|---|---|---|',
    line(lb),
    line(sb),
    line(lr),
    line(sr),
    '',
    `- backup S3 / local: **${f2(ratio(sb.seconds, lb.seconds))}×** the time (stream phase ${f2(sb.extra.streamPhaseSeconds ?? NaN)} s against ${f2(lb.extra.streamPhaseSeconds ?? NaN)} s); restore S3 / local: **${f2(ratio(sr.seconds, lr.seconds))}×** (stream step ${f2(sr.extra.streamSeconds ?? NaN)} s against ${f2(lr.extra.streamSeconds ?? NaN)} s).`,
    `- worker peak RSS: ${f1(x.workerPeakRssMiB.local)} MiB with the local repository, ${f1(x.workerPeakRssMiB.s3)} MiB with the S3 one (parts in flight are held in memory: (queueSize + 1) × partSize at most).`,
    '',
  ];
}
