// Restoring a logical dump: every file it needs is re-hashed before the target is touched; then
// each schema's file is decrypted and decompressed on the worker and streamed into the stock
// `mariadb` client on the target host (the SQL drops and re-creates that schema).
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { dumpSchema, isDumpManifest, type DumpManifest } from '../../core/dump/dump.js';
import { artifactDir } from '../../core/manifest/manifest.js';
import type { Env } from '../deps.js';
import { fatal, transient, FailureType } from '../errors.js';
import { cancellationSignal, checkpoint, heartbeater } from '../heartbeat.js';
import { classifyDecryptError } from '../crypto/escrow.js';
import { ensureGpgHome, gpgDecrypt } from '../crypto/gpg.js';
import { zstdDecompress } from '../crypto/zstd.js';
import { PipelineGuard } from '../crypto/stage.js';
import { inServiceContext, shQuote } from '../ssh/quote.js';
import { meter, stageFailure, tailOf } from '../mariadb/backup.js';
import { classifyMariadbError } from '../mariadb/classify.js';

export async function findDump(env: Env, cloud: string, id?: string): Promise<DumpManifest> {
  if (id) {
    const m = await env.repo.readManifest(artifactDir(cloud, 'dump', id));
    if (!m || !isDumpManifest(m) || m.id !== id)
      throw fatal(
        FailureType.BackupNotFound,
        `no logical dump ${id} of cloud ${cloud} in the repository`,
        'list the dumps with `osbackup catalog list`',
      );
    return m;
  }
  const all = (await env.repo.scanManifests(cloud))
    .filter(isDumpManifest)
    .sort((a, b) => a.dump.snapshotAt.localeCompare(b.dump.snapshotAt));
  const newest = all.at(-1);
  if (!newest)
    throw fatal(
      FailureType.BackupNotFound,
      `cloud ${cloud} has no logical dump in the repository`,
      'take one with `osbackup backup dump`',
    );
  return newest;
}

function fileOf(m: DumpManifest, schema: string) {
  const s = dumpSchema(m, schema);
  if (!s)
    throw fatal(
      FailureType.BackupNotFound,
      `dump ${m.id} holds no schema ${schema}`,
      `choose among ${m.dump.schemas.map((x) => x.name).join(', ')}`,
    );
  return { s, rel: join(artifactDir(m.cloud, 'dump', m.id), s.file) };
}

export async function verifyDumpFiles(
  env: Env,
  cloud: string,
  id: string,
  schemas: string[],
): Promise<{ bytes: number }> {
  const m = await findDump(env, cloud, id);
  const progress = checkpoint('verifying dump files');
  let bytes = 0;
  for (const name of schemas) {
    if (progress.finished.has(name)) continue;
    const { s, rel } = fileOf(m, name);
    const got = await env.repo
      .sha256File(env.repo.path(rel))
      .catch(() => ({ sha256: 'unreadable (missing?)', bytes: -1 }));
    bytes += Math.max(0, got.bytes);
    if (got.sha256 !== s.sha256 || got.bytes !== s.bytes) {
      throw fatal(
        FailureType.ChecksumMismatch,
        `dump file ${rel} is corrupt: SHA-256 ${got.sha256} (${got.bytes} bytes) but the manifest recorded ${s.sha256} (${s.bytes} bytes); nothing on the target was touched`,
        `restore the other schemas without ${name}, or ${name} from another dump or a copy on another target; then find out what damaged the repository`,
      );
    }
    progress.done(name, { file: s.file, bytes });
  }
  return { bytes };
}

export interface DumpImportResult {
  dumpId: string;
  targetHost: string;
  schemas: { name: string; tables: number; expectedTables: number; plainBytes: number; seconds: number }[];
  seconds: number;
}

/** The client that imports: an account that may drop and create schemas (the replay account). */
function clientCommand(host: { mariadb: { replayDefaultsFile?: string; defaultsFile?: string } }): string {
  const defaults = host.mariadb.replayDefaultsFile ?? host.mariadb.defaultsFile;
  return `mariadb${defaults ? ` --defaults-file=${shQuote(defaults)}` : ''}`;
}

/**
 * `into`: a scratch server on that host reached by its socket, outside any container (a
 * single-service restore loads the dump there, never into the live server directly).
 */
export async function importDumpToHost(
  env: Env,
  cloud: string,
  id: string,
  schemas: string[],
  targetHost: string,
  into?: { socket: string },
): Promise<DumpImportResult> {
  const m = await findDump(env, cloud, id);
  const { host: configured, target } = env.dbHost(cloud, targetHost);
  const host = into ? { ...configured, containerRuntime: 'none' as const } : configured;
  const keys = await env.gpgKeys();
  await ensureGpgHome(keys.homedir);
  const outer = cancellationSignal();
  const beat = heartbeater();
  const client = into ? `mariadb --no-defaults --socket=${shQuote(into.socket)} -uroot` : clientCommand(host);
  const t0 = performance.now();
  const done: DumpImportResult['schemas'] = [];
  for (const name of schemas) {
    const { s, rel } = fileOf(m, name);
    const t1 = performance.now();
    const guard = new PipelineGuard(outer);
    const remote = await env.deps.ssh.exec(
      target,
      inServiceContext(host, host.containers.mariadb, client),
      guard.signal,
    );
    const err = tailOf(remote.stderr);
    remote.stdout.resume();
    const gpg = gpgDecrypt(keys, guard.signal);
    const zstd = zstdDecompress(guard.signal);
    const source = env.repo.openRead(rel);
    const stored = createHash('sha256');
    const plain = createHash('sha256');
    let bytes = 0;
    let plainBytes = 0;
    guard.track(source, gpg.stdin, gpg.stdout, zstd.stdin, zstd.stdout, remote.stdin);
    const results = await Promise.allSettled([
      guard.watch(
        'file',
        pipeline(
          source,
          meter((n) => (bytes += n), stored),
          gpg.stdin,
        ),
      ),
      guard.watch('gpg', pipeline(gpg.stdout, zstd.stdin)),
      guard.watch(
        'ssh',
        pipeline(
          zstd.stdout,
          meter((n) => {
            plainBytes += n;
            beat({ step: `importing ${name} into ${targetHost}`, plainBytes, of: s.plainBytes });
          }, plain),
          remote.stdin as Writable,
        ),
      ),
      guard.watchStage(gpg),
      guard.watchStage(zstd),
      guard.watchExit('mariadb', remote.done),
    ]);
    const [, , , gx, zx, rx] = results;
    if (outer?.aborted)
      throw transient(
        FailureType.MariadbRestoreFailed,
        `import of ${name} into ${targetHost} cancelled part-way: the schema is incomplete there`,
        'restore it again',
      );
    if (rx.status === 'fulfilled' && rx.value.code !== 0) {
      if (/ERROR \d+/.test(err()))
        throw fatal(
          FailureType.MariadbRestoreFailed,
          `${targetHost}: importing ${name} from ${s.file} failed: ${err().trim().split('\n').slice(-3).join(' | ')}; the schema is incomplete on the target`,
          `the account in ${host.mariadb.replayDefaultsFile ?? host.mariadb.defaultsFile ?? 'the default option file'} must be able to drop and create schemas (hosts.${targetHost}.mariadb.replayDefaultsFile); read the error, then restore again`,
        );
      throw classifyMariadbError(targetHost, `importing ${name}`, rx.value.code, err());
    }
    if (rx.status === 'rejected') throw rx.reason;
    if (gx.status === 'fulfilled' && gx.value.code !== 0)
      throw classifyDecryptError(gx.value.stderr, m.encryption, {
        artifact: `${s.file} of dump ${m.id}`,
        gpgHome: keys.homedir,
      });
    if (zx.status === 'fulfilled' && zx.value.code !== 0) throw stageFailure(zstd, zx.value.code, zx.value.stderr);
    for (const r of results)
      if (r.status === 'rejected')
        throw transient(
          FailureType.MariadbRestoreFailed,
          `importing ${name} into ${targetHost}: ${(r.reason as Error).message}`,
          'it is retried',
        );
    if (
      stored.digest('hex') !== s.sha256 ||
      bytes !== s.bytes ||
      plain.digest('hex') !== s.plainSha256 ||
      plainBytes !== s.plainBytes
    ) {
      throw fatal(
        FailureType.ChecksumMismatch,
        `${s.file} of dump ${m.id} changed while it was imported (its hashes no longer match the manifest); ${name} on ${targetHost} holds what was read`,
        'restore it again; run `osbackup verify` on the repository',
      );
    }
    done.push({ name, tables: 0, expectedTables: s.tables, plainBytes, seconds: (performance.now() - t1) / 1000 });
  }
  // the restored schemas must hold the tables the dump recorded
  const sql = `SELECT table_schema, COUNT(*) FROM information_schema.tables WHERE table_type='BASE TABLE' AND table_schema IN (${schemas.map((x) => `'${x}'`).join(',')}) GROUP BY table_schema`;
  const r = await env.deps.ssh.run(
    target,
    inServiceContext(host, host.containers.mariadb, `${client} -N -B -e ${shQuote(sql)}`),
    { signal: outer },
  );
  if (r.code !== 0) throw classifyMariadbError(targetHost, 'counting the restored tables', r.code, r.stderr);
  const counts = new Map(
    r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => [l.split('\t')[0]!, Number(l.split('\t')[1])]),
  );
  for (const d of done) d.tables = counts.get(d.name) ?? 0;
  const short = done.filter((d) => d.tables !== d.expectedTables);
  if (short.length)
    throw fatal(
      FailureType.VerificationFailed,
      `${targetHost}: after the import ${short.map((d) => `${d.name} holds ${d.tables} tables, the dump ${d.expectedTables}`).join('; ')}`,
      'read the server log on the target; restore again',
    );
  return { dumpId: m.id, targetHost, schemas: done, seconds: (performance.now() - t0) / 1000 };
}
