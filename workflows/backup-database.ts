// Full MariaDB backup, the runbook: list the tables, stream the backup off the controller,
// publish with the manifest last. The row counts and checksums a restore is compared with come
// from the backup's first verified restore, off the controller; with `database.facts: live` they
// are read on the live server before and after the stream instead (tables written meanwhile are
// marked).
import {
  workflowInfo,
  upsertSearchAttributes,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  log,
  patched,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { recordFacts } from '../core/manifest/facts.js';
import type { DbFacts, ListedTable } from '../core/manifest/manifest.js';
import { databaseBackupId } from '../core/ids.js';
import {
  databaseArtifactSection,
  MANIFEST_FORMAT,
  RECIPE_FILE,
  type ArtifactManifest,
} from '../core/manifest/manifest.js';
import {
  chooseDonors,
  parseGaleraInfo,
  type GaleraManifestSection,
  type GaleraNodeState,
} from '../core/galera/donor.js';
import {
  galeraResyncCall,
  galeraStream,
  longStream,
  shortCall,
  shortActivities,
  dataBoundActivities,
  dataBoundCall,
} from './options.js';
import { acquireLease, backupLeaseId } from './lease.js';
import { Steps } from './progress.js';
import { CLOUD, COMPONENT, TIER } from './search-attributes.js';

const short = shortActivities(shortCall);
const data = dataBoundActivities(dataBoundCall);
const stream = dataBoundActivities(longStream);
const donorStream = dataBoundActivities(galeraStream);
const resync = shortActivities(galeraResyncCall);

/** Failures no other donor can cure: the config or the backup user is wrong everywhere. */
const SAME_ON_EVERY_NODE = new Set([
  'ConfigInvalid',
  'SecretUnavailable',
  'SshAuthFailed',
  'SshHostKeyMismatch',
  'MariadbPrivileges',
  'DiskFull',
  'ChecksumMismatch',
]);

export interface BackupDatabaseInput {
  cloud: string;
  kind: 'full' | 'incremental';
  tier?: string;
  /** osbackup's version, recorded in the manifest (passed in: workflows read nothing). */
  toolVersion?: string;
}

export interface BackupDatabaseResult {
  backupId: string;
  kind: 'full' | 'incremental';
  parentId: string | null;
  /** Set when an incremental was asked for but a full was taken (autoFull), with the reason. */
  fellBackToFull: string | null;
  path: string;
  bytes: number;
  streamBytes: number;
  sha256: string;
  streamSeconds: number;
  throughputMBps: number;
  toLsn: string;
  tables: number;
  unstableTables: string[];
  /** Galera: the node the backup was read from, and those that failed before it. */
  donor?: string;
  failedDonors?: string[];
}

/** What the backup knows of the tables before the stream: live facts, or the listed tables. */
type Before = DbFacts & { listed?: ListedTable[] };

const describeBefore = (f: Before): string =>
  f.listed
    ? `${f.listed.length} tables listed (their counts and checksums come from the first verified restore)`
    : `${f.tables.length} tables`;

export async function backupDatabaseWorkflow(input: BackupDatabaseInput): Promise<BackupDatabaseResult> {
  const info = workflowInfo();
  let started = new Date(info.startTime);
  const cloud = input.cloud;
  upsertSearchAttributes([
    { key: CLOUD, value: cloud },
    { key: COMPONENT, value: 'database' },
    { key: TIER, value: input.tier ?? 'manual' },
  ]);
  // One database backup of a cloud at a time, whoever started it (a schedule, the CLI, a
  // preflight): a second one would pick the same base and kill the first one's mariabackup as a
  // leftover. Runs started before the lease existed replay without it.
  const leased = patched('backup-lease');
  // Facts from the backup (no full read of the live server); runs started before read them live.
  const factsFromBackup = patched('facts-from-backup');
  const steps = new Steps([
    ...(leased ? ['wait for other backups'] : []),
    ...(input.kind === 'incremental' ? ['choose base'] : []),
    'read table facts',
    'stream backup',
    're-read table facts',
    'publish',
  ]);

  const lease = leased
    ? await steps.run(
        'wait for other backups',
        () => acquireLease(backupLeaseId(cloud), `the ${input.kind} backup of cloud ${cloud}`),
        (l) => (l.waitedSeconds > 0 ? `waited ${Math.max(1, Math.round(l.waitedSeconds))} s` : 'none running'),
      )
    : null;
  // the backup starts when it holds the lease: its id and times say when it really ran
  if (lease) started = new Date();
  try {
    return await backupUnderLease();
  } finally {
    await lease?.release();
  }

  async function backupUnderLease(): Promise<BackupDatabaseResult> {
    // An incremental builds on the newest member of an intact chain; without one it fails
    // (or, under the autoFull policy, takes a full backup and says why).
    let base: { id: string; toLsn: string; host?: string } | null = null;
    let fellBackToFull: string | null = null;
    if (input.kind === 'incremental') {
      const found = await steps.run(
        'choose base',
        () => short.repositoryFindIncrementalBase({ cloud }),
        (r) => (r.base ? `on ${r.base.id} (LSN ${r.base.toLsn})` : `none: ${r.problem}`),
      );
      if (found.base) base = found.base;
      else if (found.autoFull) fellBackToFull = found.problem;
      else
        throw ApplicationFailure.nonRetryable(
          `no valid base for an incremental backup of ${cloud}: ${found.problem}. Fix: take a full backup (osbackup backup db --full), or set clouds.${cloud}.database.autoFull: true to fall back to a full automatically`,
          'ChainBroken',
        );
    }
    const kind = base ? 'incremental' : 'full';
    const backupId = databaseBackupId(kind, started);

    // Facts first, then the stream. Reading live facts alongside the stream was measured (bench,
    // 2 GB): the end-to-end time stayed the same (CHECKSUM TABLE and zstd share the host's CPU)
    // while the stream — the window the backup is open — grew from ~19 s to ~27 s.
    const plan = patched('galera-donor') ? await short.galeraPlan({ cloud }) : null;
    let before: Before;
    let s: Awaited<ReturnType<Activities['mariadbStreamBackup']>>;
    let galera: GaleraManifestSection | undefined;
    if (plan) {
      ({ before, s, galera } = await galeraBackup(plan));
    } else {
      before = await steps.run('read table facts', () => readFactsBefore(), describeBefore);
      s = await steps.run(
        'stream backup',
        () => stream.mariadbStreamBackup({ cloud, backupId, base: base ?? undefined }),
        (r) => `${r.bytes} bytes stored, ${(r.streamBytes / 1e6 / r.streamSeconds).toFixed(1)} MB/s`,
      );
    }
    const factsHost = galera?.donor;
    try {
      return await finish();
    } catch (e) {
      // Cancelled or failed after the stream: the staged file must not linger half-owned.
      await CancellationScope.nonCancellable(() => data.repositoryDiscardStaging({ stagingDir: s.stagingDir }));
      throw e;
    }

    async function finish(): Promise<BackupDatabaseResult> {
      const listed = before.listed;
      let tables: ArtifactManifest['tables'] = [];
      if (listed) steps.drop('re-read table facts');
      else {
        const after = await steps.run('re-read table facts', () =>
          data.mariadbCollectFacts({ cloud, host: factsHost, tables: before.tables.map((t) => t.table) }),
        );
        tables = recordFacts(before.tables, after.tables);
      }

      const manifest: ArtifactManifest = {
        formatVersion: MANIFEST_FORMAT,
        id: backupId,
        cloud,
        component: 'database',
        kind,
        parentId: base?.id ?? null,
        startedAt: started.toISOString(),
        completedAt: new Date().toISOString(),
        workflowId: info.workflowId,
        source: s.source,
        artifact: databaseArtifactSection(s, s.compressedOn),
        mariadb: {
          serverVersion: before.serverVersion,
          mariabackupVersion: s.mariabackupVersion,
          checkpoints: s.checkpoints,
          binlog: s.binlog,
        },
        tables,
        ...(listed ? { factsFrom: 'backup' as const, listedTables: listed } : {}),
        timings: { streamSeconds: s.streamSeconds, totalSeconds: (new Date().getTime() - started.getTime()) / 1000 },
        tools: { ...s.tools, osbackup: input.toolVersion ?? 'unknown' },
        restoreRecipe: RECIPE_FILE,
        ...(galera ? { galera } : {}),
      };
      const published = await steps.run('publish', () =>
        data.repositoryPublishDatabaseBackup({ stagingDir: s.stagingDir, manifest }),
      );
      steps.finish('done');
      return {
        backupId,
        kind,
        parentId: base?.id ?? null,
        fellBackToFull,
        path: published.path,
        bytes: s.bytes,
        streamBytes: s.streamBytes,
        sha256: s.sha256,
        streamSeconds: s.streamSeconds,
        throughputMBps: s.streamBytes / 1e6 / s.streamSeconds,
        toLsn: s.checkpoints.toLsn,
        tables: listed ? listed.length : tables.length,
        unstableTables: tables.filter((t) => !t.stable).map((t) => t.table),
        ...(galera ? { donor: galera.donor, failedDonors: galera.failedDonors } : {}),
      };
    }

    /**
     * The live server's table list when the facts come from the backup (no row is read), else
     * the live facts as before.
     */
    async function readFactsBefore(host?: string): Promise<Before> {
      if (factsFromBackup) {
        const l = await short.mariadbListTables(host ? { cloud, host } : { cloud });
        if (l.factsFrom === 'backup') return { serverVersion: l.serverVersion, tables: [], listed: l.tables };
      }
      return data.mariadbCollectFacts(host ? { cloud, host } : { cloud });
    }

    /**
     * Galera: the donor is a healthy Synced node that is not the writer; it is desynced for the
     * stream (its flow control then cannot stall the cluster) and put back in sync afterwards
     * whatever happened — in a scope cancellation cannot cut short. A donor that fails mid-stream
     * is left for the next healthy node; the half-written artifact was already discarded.
     */
    async function galeraBackup(p: NonNullable<typeof plan>) {
      const failedDonors: string[] = [];
      let states: GaleraNodeState[] = p.states;
      for (const l of p.leftovers)
        log.warn('reset a desync an earlier backup left', {
          host: l.host,
          backupId: l.backupId,
          wasDesynced: l.wasDesynced,
        });
      for (let round = 0; ; round++) {
        if (round > 0) states = await short.galeraInspect({ cloud });
        const choice = chooseDonors(states, p.policy, failedDonors);
        // InnoDB LSNs are per node: an incremental must come from the node its base came from
        let candidates = choice.candidates;
        if (base?.host) candidates = candidates.filter((h) => h === base!.host);
        const donor = candidates[0];
        if (!donor) {
          const why = choice.skipped.map((x) => `${x.host}: ${x.reason}`).join('; ');
          if (base?.host)
            throw ApplicationFailure.nonRetryable(
              `no incremental backup of ${cloud} possible: its base ${base.id} was taken on ${base.host}, which cannot serve now (${why || 'it is the only candidate'}); InnoDB LSNs are per node`,
              'ChainBroken',
            );
          throw ApplicationFailure.nonRetryable(
            `no Galera node of ${cloud} can serve as the donor (${why})`,
            'GaleraNoDonor',
          );
        }
        const stepName = `stream backup from ${donor}`;
        try {
          await steps.run(`desync ${donor}`, () => short.galeraDesync({ cloud, host: donor, backupId }));
          const b = await steps.run('read table facts', () => readFactsBefore(donor), describeBefore);
          const r = await steps.run(
            stepName,
            () =>
              donorStream.mariadbStreamBackup({
                cloud,
                backupId,
                base: base ?? undefined,
                host: donor,
                galeraInfo: true,
              }),
            (x) => `${x.bytes} bytes stored, ${(x.streamBytes / 1e6 / x.streamSeconds).toFixed(1)} MB/s`,
          );
          const pos = parseGaleraInfo(r.galeraInfo ?? '');
          if (!pos) {
            await CancellationScope.nonCancellable(() => data.repositoryDiscardStaging({ stagingDir: r.stagingDir }));
            throw ApplicationFailure.nonRetryable(
              `${donor}: mariabackup --galera-info recorded no cluster position (${r.galeraInfo ?? 'no xtrabackup_galera_info'})`,
              'MariadbBackupFailed',
            );
          }
          const nodes = states.map((n) => ({
            host: n.host,
            state: n.reachable ? (n.state ?? 'unknown') : 'unreachable',
            seqno: n.seqno ?? null,
          }));
          return {
            before: b,
            s: r,
            galera: {
              ...pos,
              donor,
              writer: choice.writer,
              writerFrom: choice.writerFrom,
              failedDonors,
              nodes,
            } satisfies GaleraManifestSection,
          };
        } catch (e) {
          if (isCancellation(e)) throw e;
          const type = (e as { cause?: { type?: string }; type?: string }).cause?.type ?? (e as { type?: string }).type;
          if (type && SAME_ON_EVERY_NODE.has(type)) throw e;
          log.warn('donor failed; trying another node', { donor, error: (e as Error).message });
          failedDonors.push(donor);
        } finally {
          await CancellationScope.nonCancellable(async () => {
            try {
              await steps.run(
                `resync ${donor}`,
                () => resync.galeraResync({ cloud, host: donor }),
                (x) =>
                  x.drained
                    ? `receive queue drained (max ${x.maxRecvQueue}) in ${x.waitedSeconds.toFixed(1)} s`
                    : `queue not drained after ${x.waitedSeconds.toFixed(0)} s: desync OFF regardless`,
              );
            } catch (e) {
              // a dead donor comes back with desync OFF; its marker stays for the next backup to clear
              log.warn('could not resync the donor; the next backup resets it', { donor, error: (e as Error).message });
            }
          });
        }
      }
    }
  }
}
