// A logical dump: ONE `mariadb-dump --single-transaction --databases a b c` run on the database
// host (one snapshot for every schema), its output split on the worker into one SQL stream per
// schema, each sealed (zstd → gpg → SHA-256) into its own staged file. No plaintext touches a
// disk; the files become visible only when the manifest is published.
import { createWriteStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  chooseSchemas,
  dumpFileName,
  DumpSplitter,
  missingDumpGrants,
  parseDumpPosition,
  type DumpSchemaFile,
  type DumpSection,
} from '../../core/dump/dump.js';
import type { EncryptionInfo } from '../../core/manifest/manifest.js';
import type { Env } from '../deps.js';
import { fatal, fsFailure, transient, FailureType } from '../errors.js';
import { cancellationSignal, heartbeater } from '../heartbeat.js';
import { ensureGpgHome, gpgEncrypt, gpgVersion, keyFingerprints } from '../crypto/gpg.js';
import { zstdCompress, zstdVersion } from '../crypto/zstd.js';
import { PipelineGuard, type ProcessStage } from '../crypto/stage.js';
import { inServiceContext } from '../ssh/quote.js';
import { meter, stageFailure, tailOf } from '../mariadb/backup.js';
import { classifyMariadbError } from '../mariadb/classify.js';
import { dumpScript } from '../mariadb/commands.js';
import { runSql } from '../mariadb/facts.js';

export interface DumpStreamInput {
  cloud: string;
  dumpId: string;
  /** Schemas to dump (default: the config's dumps.schemas, else every non-system schema). */
  schemas?: string[];
}

export interface DumpStreamResult {
  stagingDir: string;
  dump: DumpSection;
  source: { host: string; address: string; containerRuntime: string };
  encryption: EncryptionInfo;
  compressionLevel: number;
  tools: { zstd: string; gpg: string };
  seconds: number;
}

/** Consistent snapshot of every schema in one transaction; a PITR base (binlog position + GTID); everything a schema holds. */
export const DUMP_OPTIONS = [
  '--single-transaction',
  '--routines',
  '--triggers',
  '--events',
  '--add-drop-database',
  '--hex-blob',
  '--quick',
  '--default-character-set=utf8mb4',
];
const POSITION_OPTIONS = ['--master-data=2', '--gtid'];

const PREFLIGHT_SQL =
  [
    "SELECT '#vars', VERSION(), @@global.log_bin, DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ')",
    "SELECT '#schemas'",
    'SHOW DATABASES',
    "SELECT '#grants'",
    'SHOW GRANTS',
  ].join(';\n') + ';';

const NOW_SQL = "SELECT DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ')";
const ms3 = (t: string) => t.trim().replace(/(\.\d{3})\d*Z$/, '$1Z');

export function parsePreflight(out: string): {
  version: string;
  logBin: boolean;
  now: string;
  schemas: string[];
  grants: string;
} {
  let section = '';
  const r = { version: 'unknown', logBin: false, now: '', schemas: [] as string[], grants: '' };
  for (const line of out.split('\n')) {
    if (!line) continue;
    const c = line.split('\t');
    if (c[0] === '#vars') {
      r.version = c[1] ?? 'unknown';
      r.logBin = c[2] === '1';
      r.now = ms3(c[3] ?? '');
      continue;
    }
    if (c.length === 1 && (line === '#schemas' || line === '#grants')) {
      section = line;
      continue;
    }
    if (section === '#schemas') r.schemas.push(line);
    else if (section === '#grants') r.grants += line + '\n';
  }
  return r;
}

interface SchemaSink {
  zstd: ProcessStage;
  gpg: ProcessStage;
  done: Promise<unknown>;
  plain: ReturnType<typeof createHash>;
  plainBytes: number;
  stored: ReturnType<typeof createHash>;
  bytes: number;
}

export async function dumpStream(env: Env, input: DumpStreamInput): Promise<DumpStreamResult> {
  const { cloud, dumpId } = input;
  const db = env.cloud(cloud).database;
  const { host, target } = env.dbHost(cloud, db.host);
  const outer = cancellationSignal();

  // Grants first: without TRIGGER mariadb-dump leaves triggers out without failing, so a
  // missing privilege must be refused here, not discovered in a restore.
  const pre = parsePreflight(await runSql(env, cloud, db.host, PREFLIGHT_SQL));
  const missing = missingDumpGrants(pre.grants);
  if (missing.length) {
    throw fatal(
      FailureType.MariadbPrivileges,
      `${db.host}: the backup user ${db.user} lacks ${missing.join(', ')}, which a complete logical dump needs (views need SHOW VIEW, triggers TRIGGER, events EVENT)`,
      `GRANT ${missing.join(', ')} ON *.* TO '${db.user}'@'localhost' (and '${db.user}'@'%' if it connects over TCP)`,
    );
  }
  const chosen = chooseSchemas(pre.schemas, input.schemas, db.dumps.schemas);
  if ('problem' in chosen)
    throw fatal(
      FailureType.ConfigInvalid,
      `${db.host}: cannot choose the schemas to dump: ${chosen.problem}`,
      `name existing schemas (--schemas a,b) or fix clouds.${cloud}.database.dumps.schemas`,
    );
  const schemas = chosen.schemas;
  const options = [...DUMP_OPTIONS, ...(pre.logBin ? POSITION_OPTIONS : [])];

  const keys = await env.gpgKeys();
  await ensureGpgHome(keys.homedir);
  const secret = await env.dbOptionFile(cloud, host);
  const ver = await env.deps.ssh.run(
    target,
    inServiceContext(host, host.containers.mariadb, 'mariadb-dump --version'),
    { signal: outer },
  );
  if (ver.code !== 0)
    throw classifyMariadbError(
      db.host,
      'mariadb-dump --version',
      ver.code,
      ver.stderr.includes('not found') ? `mariadb: ${ver.stderr}` : ver.stderr,
    );
  const dumpTool = ver.stdout.trim().replace(/^.*?(mariadb-dump|mysqldump)\s+/, '$1 ');

  let stagingDir: string;
  try {
    stagingDir = await env.repo.createStaging(dumpId);
  } catch (e) {
    throw fsFailure(e, `creating a staging folder in ${env.repo.root}`);
  }
  const guard = new PipelineGuard(outer);
  const beat = heartbeater();
  const t0 = performance.now();
  const sinks = new Map<string, SchemaSink>();
  let upper: Promise<string> | undefined;
  let readBytes = 0;
  let remoteErr = () => '';
  let remoteRc: { code: number | null } | undefined;
  try {
    const remote = await env.deps.ssh.exec(
      target,
      dumpScript(host, secret.length, [...options, '--databases', ...schemas]),
      guard.signal,
    );
    remote.stdin.end(secret);
    remoteErr = tailOf(remote.stderr);
    guard.track(remote.stdout, remote.stdin);
    const remoteDone = guard.watchExit('mariadb-dump', remote.done);
    remoteDone.then(
      (r) => (remoteRc = r),
      () => undefined,
    );

    const open = (schema: string): SchemaSink => {
      const zstd = zstdCompress(db.dumps.compressionLevel, guard.signal);
      const gpg = gpgEncrypt(keys, guard.signal);
      const out = createWriteStream(join(stagingDir, dumpFileName(schema)), {
        flags: 'wx',
        mode: 0o600,
        highWaterMark: 1 << 20,
      });
      guard.track(zstd.stdin, zstd.stdout, gpg.stdin, gpg.stdout, out);
      const sink: SchemaSink = {
        zstd,
        gpg,
        plain: createHash('sha256'),
        plainBytes: 0,
        stored: createHash('sha256'),
        bytes: 0,
        done: Promise.resolve(),
      };
      sink.done = Promise.all([
        guard.watch(`zstd ${schema}`, pipeline(zstd.stdout, gpg.stdin)),
        guard.watch(
          `file ${schema}`,
          pipeline(
            gpg.stdout,
            meter((n) => (sink.bytes += n), sink.stored),
            out,
          ),
        ),
        guard.watchStage(zstd),
        guard.watchStage(gpg),
      ]);
      sink.done.catch(() => undefined);
      return sink;
    };
    // writes queue up per chunk and are awaited in order: back-pressure reaches the SSH stream
    const queue: [string, string][] = [];
    const splitter = new DumpSplitter(schemas, (schema, text) => queue.push([schema, text]));
    // latin1 maps bytes 1:1 to characters: the SQL passes through byte-exact whatever its encoding
    const write = async (w: Writable, text: string) => {
      if (!w.write(Buffer.from(text, 'latin1')))
        await new Promise<void>((resolve, reject) => {
          w.once('drain', resolve);
          w.once('error', reject);
          guard.signal.addEventListener('abort', () => resolve(), { once: true });
        });
    };
    const flush = async () => {
      for (const [schema, text] of queue.splice(0)) {
        let s = sinks.get(schema);
        if (!s) {
          // the snapshot exists once the first schema starts: the server's clock now is an upper bound
          upper ??= runSql(env, cloud, db.host, NOW_SQL).then(ms3);
          upper.catch(() => undefined);
          sinks.set(schema, (s = open(schema)));
          const head = splitter.headerText();
          s.plain.update(head, 'latin1');
          s.plainBytes += head.length;
          await write(s.zstd.stdin, head);
        }
        s.plain.update(text, 'latin1');
        s.plainBytes += text.length;
        await write(s.zstd.stdin, text);
      }
    };
    let rest = '';
    for await (const chunk of remote.stdout as AsyncIterable<Buffer>) {
      if (guard.signal.aborted) break;
      readBytes += chunk.length;
      const text = rest + chunk.toString('latin1');
      const lines = text.split('\n');
      rest = lines.pop()!;
      for (const l of lines) splitter.line(l);
      await flush();
      beat({
        step: 'dumping',
        plainBytes: readBytes,
        schemas: sinks.size,
        of: schemas.length,
        seconds: Math.round((performance.now() - t0) / 1000),
      });
    }
    if (rest) splitter.line(rest);
    const rc = await remoteDone.catch(() => undefined);
    if (outer?.aborted)
      throw transient(
        FailureType.MariadbBackupFailed,
        'dump cancelled; the partial files were discarded',
        'start it again',
      );
    if (!rc || rc.code !== 0) {
      if (guard.first && guard.first.part !== 'mariadb-dump')
        throw transient(
          FailureType.EncryptionFailed,
          `${guard.first.part} failed: ${(guard.first.error as Error)?.message?.trim().split('\n').slice(-2).join(' | ')}`,
          'check the worker host (disk, gpg keys, zstd)',
        );
      throw classifyMariadbError(db.host, 'mariadb-dump', rc?.code ?? null, remoteErr());
    }
    let footer: string;
    try {
      await flush();
      footer = splitter.finish();
    } catch (e) {
      throw transient(
        FailureType.MariadbBackupFailed,
        `${db.host}: mariadb-dump's output is not a whole dump (${(e as Error).message}; ${readBytes} bytes read)`,
        'the dump is retried; if it keeps failing read the server log',
      );
    }
    const absent = schemas.filter((s) => !sinks.has(s));
    if (absent.length)
      throw transient(
        FailureType.MariadbBackupFailed,
        `${db.host}: the dump holds no section for ${absent.join(', ')}`,
        'the dump is retried (a schema dropped while it ran?)',
      );
    for (const s of sinks.values()) {
      s.plain.update(footer, 'latin1');
      s.plainBytes += footer.length;
      await write(s.zstd.stdin, footer);
      s.zstd.stdin.end();
    }
    await Promise.allSettled([...sinks.values()].map((s) => s.done));
    for (const s of sinks.values()) {
      const [zx, gx] = await Promise.all([s.zstd.exit, s.gpg.exit]);
      if (zx.code !== 0) throw stageFailure(s.zstd, zx.code, zx.stderr);
      if (gx.code !== 0) throw stageFailure(s.gpg, gx.code, gx.stderr);
    }
    if (guard.first) throw fsFailure(guard.first.error, `writing the dump files in ${stagingDir}`);

    const position = parseDumpPosition(splitter.headerText() + (splitter.gtidLine ?? ''));
    if (pre.logBin && !position.binlog)
      throw transient(
        FailureType.MariadbBackupFailed,
        `${db.host}: mariadb-dump did not write the binlog position (--master-data)`,
        'the dump is retried',
      );
    const snapshotAt = upper ? await upper : ms3(await runSql(env, cloud, db.host, NOW_SQL));
    const files: DumpSchemaFile[] = schemas.map((name) => {
      const s = sinks.get(name)!;
      return {
        name,
        file: dumpFileName(name),
        bytes: s.bytes,
        sha256: s.stored.digest('hex'),
        plainBytes: s.plainBytes,
        plainSha256: s.plain.digest('hex'),
        tables: splitter.tables.get(name) ?? 0,
      };
    });
    const [fingerprints, zv, gv] = await Promise.all([
      keyFingerprints(keys.recipientKeyFiles, keys.homedir),
      zstdVersion(),
      gpgVersion(),
    ]);
    return {
      stagingDir,
      dump: {
        snapshotAt,
        snapshotNotBefore: pre.now,
        gtid: position.gtid,
        binlog: position.binlog,
        serverVersion: pre.version,
        dumpTool,
        options,
        schemas: files,
      },
      source: { host: db.host, address: host.address, containerRuntime: host.containerRuntime },
      encryption: {
        format: 'openpgp',
        cipher: 'AES256',
        passphrase: keys.passphrase !== undefined,
        recipientFingerprints: fingerprints,
      },
      compressionLevel: db.dumps.compressionLevel,
      tools: { zstd: zv, gpg: gv },
      seconds: (performance.now() - t0) / 1000,
    };
  } catch (e) {
    const first = guard.first;
    guard.abort.abort();
    await Promise.allSettled([...sinks.values()].map((s) => Promise.all([s.zstd.exit, s.gpg.exit])));
    await env.repo.discardStaging(stagingDir);
    if (e instanceof Error && e.name === 'ApplicationFailure') throw e;
    if (first?.part === 'mariadb-dump')
      throw classifyMariadbError(db.host, 'mariadb-dump', remoteRc?.code ?? null, remoteErr());
    if (outer?.aborted)
      throw transient(
        FailureType.MariadbBackupFailed,
        'dump cancelled; the partial files were discarded',
        'start it again',
      );
    throw transient(
      FailureType.MariadbBackupFailed,
      `${db.host}: the dump stream broke${first ? ` in ${first.part}` : ''}: ${((first?.error ?? e) as Error)?.message ?? String(e)}; the partial files were discarded`,
      'it is retried; check the worker (disk, gpg) and the link to the host',
    );
  }
}
