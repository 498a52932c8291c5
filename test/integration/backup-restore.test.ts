// The foundation, end to end on real parts: Temporal dev server, a worker process, sshd hosts
// in network namespaces, MariaDB + mariabackup, gpg, zstd, mbstream.
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
  closeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import type { ArtifactManifest, VerificationRecord } from '../../core/manifest/manifest.js';
import {
  cli,
  deriveConfig,
  labDir,
  liveFacts,
  sql,
  startWorker,
  userRowsRead,
  type WorkerProcess,
  LAB_TABLES,
} from '../helpers/lab.js';

const TABLES = LAB_TABLES;
let configFile: string;
let worker: WorkerProcess;
let repo: string;
let backup: {
  backupId: string;
  path: string;
  sha256: string;
  bytes: number;
  streamBytes: number;
  throughputMBps: number;
};
let manifest: ArtifactManifest;

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const mode = (p: string) => statSync(p).mode & 0o777;

beforeAll(async () => {
  configFile = deriveConfig('main');
  repo = (parse(readFileSync(configFile, 'utf8')) as { repository: { path: string } }).repository.path;
  worker = await startWorker(configFile);
});

afterAll(async () => {
  // SIGTERM drains and exits 0: the worker shuts down gracefully
  expect(await worker?.stop('SIGTERM')).toBe(0);
});

test('full backup of ctl1: streamed over SSH, compressed, encrypted, hashed, published with manifest and recipe; no row of the live server read', async () => {
  const { result: r, rowsRead } = await userRowsRead('ctl1', () =>
    cli(configFile, ['--json', 'backup', 'db', '--full', '--wait']),
  );
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  backup = JSON.parse(r.stdout);
  expect(backup.backupId).toMatch(/^db-full-\d{8}T\d{6}Z$/);
  const dir = join(repo, backup.path);
  manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));

  // integrity: the stored bytes hash to what the manifest and the result say
  const file = join(dir, manifest.artifact.file);
  expect(sha256(file)).toBe(manifest.artifact.sha256);
  expect(statSync(file).size).toBe(manifest.artifact.bytes);
  expect(backup.sha256).toBe(manifest.artifact.sha256);
  expect(manifest.artifact.streamBytes).toBeGreaterThan(manifest.artifact.bytes); // zstd did compress

  // what the manifest records
  expect(manifest.kind).toBe('full');
  expect(manifest.source.host).toBe('ctl1');
  expect(Number(manifest.mariadb.checkpoints.toLsn)).toBeGreaterThan(0);
  expect(manifest.mariadb.checkpoints.backupType).toBe('full-backuped');
  expect(manifest.mariadb.binlog?.file).toMatch(/^mysql-bin\.\d+$/);
  expect(manifest.mariadb.binlog?.gtid).toMatch(/^\d+-\d+-\d+/);
  expect(manifest.mariadb.serverVersion).toMatch(/MariaDB/);
  expect(manifest.mariadb.mariabackupVersion).toMatch(/^10\.11/);
  expect(manifest.artifact.encryption.passphrase).toBe(true);
  expect(manifest.artifact.encryption.recipientFingerprints).toHaveLength(1);
  // the default path reads no row of the live server: the tables are listed, their counts and
  // checksums come from the first verified restore
  expect(rowsRead).toBe(0);
  expect(manifest.factsFrom).toBe('backup');
  expect(manifest.tables).toEqual([]);
  expect(manifest.listedTables!.map((t) => t.table)).toEqual(TABLES);
  expect(manifest.listedTables!.find((t) => t.table === 'nova.instances')!.estimatedRows).toBeGreaterThan(0);

  // the hand-restore recipe sits beside it
  const recipe = readFileSync(join(dir, 'RESTORE.md'), 'utf8');
  expect(recipe).toContain(manifest.artifact.sha256);
  expect(recipe).toContain('mbstream -x');
  expect(recipe).toContain('mariabackup --prepare');

  // private by default; nothing half-written left behind
  expect(mode(repo)).toBe(0o700);
  expect(mode(dir)).toBe(0o700);
  expect(mode(file)).toBe(0o600);
  expect(mode(join(dir, 'manifest.json'))).toBe(0o600);
  expect(readdirSync(join(repo, '.staging'))).toEqual([]);

  // no secret in anything stored
  const secrets = ['backup-passphrase', 'db-password'].map((f) =>
    readFileSync(join(labDir(), 'secrets', f), 'utf8').trim(),
  );
  for (const s of secrets) {
    expect(readFileSync(join(dir, 'manifest.json'), 'utf8')).not.toContain(s);
    expect(recipe).not.toContain(s);
    expect(r.stdout).not.toContain(s);
  }
});

test('stock gpg, zstd and mbstream open the artifact (passphrase, and the operator key)', async () => {
  const dir = join(repo, backup.path);
  const file = join(dir, manifest.artifact.file);
  const out = mkdtempSync(join(tmpdir(), 'osb-hand-'));
  const gnupg = mkdtempSync(join(tmpdir(), 'osb-gnupg-'));
  try {
    const pass = join(labDir(), 'secrets', 'backup-passphrase');
    // exactly the recipe's pipe
    await execa('bash', [
      '-c',
      `set -o pipefail; mkdir ${out}/x && gpg --homedir ${gnupg} --batch --quiet --pinentry-mode loopback --passphrase-file ${pass} --decrypt ${file} | zstd -d | tee >(wc -c > ${out}/bytes) | mbstream -x -C ${out}/x`,
    ]);
    const checkpoints = readFileSync(join(out, 'x', 'xtrabackup_checkpoints'), 'utf8');
    expect(checkpoints).toContain(`to_lsn = ${manifest.mariadb.checkpoints.toLsn}`);
    expect(existsSync(join(out, 'x', 'ibdata1'))).toBe(true);
    // the table's definition and its tablespace (as .ibd, or .new when mariabackup re-copied a
    // tablespace built during the backup; --prepare renames it)
    expect(existsSync(join(out, 'x', 'nova', 'instances.frm'))).toBe(true);
    expect(readdirSync(join(out, 'x', 'nova')).some((f) => /^instances\.(ibd|new)$/.test(f))).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    expect(Number(readFileSync(join(out, 'bytes'), 'utf8').trim())).toBe(manifest.artifact.streamBytes);

    // the public-key recipient: the operator's secret key alone opens it too
    const viaKey = await execa('bash', [
      '-c',
      `set -o pipefail; gpg --homedir ${join(labDir(), 'operator-gnupg')} --batch --quiet --decrypt ${file} | zstd -d | sha256sum`,
    ]);
    const viaPass = await execa('bash', [
      '-c',
      `set -o pipefail; gpg --homedir ${gnupg} --batch --quiet --pinentry-mode loopback --passphrase-file ${pass} --decrypt ${file} | zstd -d | sha256sum`,
    ]);
    expect(viaKey.stdout).toBe(viaPass.stdout);
  } finally {
    await execa('gpgconf', ['--homedir', gnupg, '--kill', 'all']).catch(() => undefined);
    rmSync(out, { recursive: true, force: true });
    rmSync(gnupg, { recursive: true, force: true });
  }
});

test('the first verified restore (to ctl2) reads the facts from the backup and keeps them as its reference', async () => {
  // ctl2 holds data of its own, which the restore must replace and keep aside
  await sql(
    'ctl2',
    'CREATE DATABASE IF NOT EXISTS stale_before_restore; CREATE TABLE IF NOT EXISTS stale_before_restore.t (id int primary key)',
  );
  expect(await sql('ctl2', "SHOW DATABASES LIKE 'stale_before_restore'")).toBe('stale_before_restore');
  const r = await cli(configFile, ['--json', 'restore', 'db', '--to', 'ctl2', '--verify']);
  expect(r.exitCode).toBe(0);
  const res = JSON.parse(r.stdout) as {
    verification: string;
    backupId: string;
    asideDir: string;
    tables: { table: string; outcome: string }[];
  };
  expect(res.backupId).toBe(backup.backupId);
  expect(res.verification).toBe('VERIFIED');
  expect(res.tables.map((t) => [t.table, t.outcome])).toEqual(TABLES.map((t) => [t, 'recorded']));

  // checked again here, independently of osbackup: ctl2 now holds ctl1's data (nothing wrote to
  // ctl1 since the backup), and the reference kept beside the manifest is exactly that
  const live = await liveFacts('ctl1', TABLES);
  expect(await liveFacts('ctl2', TABLES)).toEqual(live);
  const facts = JSON.parse(readFileSync(join(repo, backup.path, 'facts.json'), 'utf8')) as {
    backupId: string;
    host: string;
    toLsn: string;
    tables: { table: string; rows: number; checksum: string }[];
  };
  expect(facts).toMatchObject({ backupId: backup.backupId, host: 'ctl2', toLsn: manifest.mariadb.checkpoints.toLsn });
  expect(Object.fromEntries(facts.tables.map((t) => [t.table, { rows: t.rows, checksum: t.checksum }]))).toEqual(live);
  expect(await sql('ctl2', "SHOW DATABASES LIKE 'stale_before_restore'")).toBe('');
  // ...and ctl2's previous data was kept aside, not deleted
  expect(existsSync(join(res.asideDir, 'stale_before_restore'))).toBe(true);

  // a proven backup carries a verification record in the repository
  const vdir = join(repo, backup.path, 'verifications');
  const records = readdirSync(vdir).map((f) => JSON.parse(readFileSync(join(vdir, f), 'utf8')) as VerificationRecord);
  expect(records.at(-1)!.result).toBe('VERIFIED');
  expect(records.at(-1)!.targetHost).toBe('ctl2');
  expect(records.at(-1)!.tablesCompared).toBe(TABLES.length);
});

test('a later restore compares with that reference: every count and checksum equal', async () => {
  await sql('ctl2', 'DELETE FROM keystone.project LIMIT 1'); // the restore must put it back
  const r = await cli(configFile, ['--json', 'restore', 'db', '--to', 'ctl2', '--verify']);
  expect(r.exitCode).toBe(0);
  const res = JSON.parse(r.stdout) as {
    verification: string;
    asideDir: string;
    tables: { table: string; outcome: string }[];
  };
  expect(res.verification).toBe('VERIFIED');
  expect(res.tables.map((t) => [t.table, t.outcome])).toEqual(TABLES.map((t) => [t, 'equal']));
  expect(await liveFacts('ctl2', TABLES)).toEqual(await liveFacts('ctl1', TABLES));
});

test('catalog list shows the restore point as VERIFIED (table and --json)', async () => {
  const j = await cli(configFile, ['--json', 'catalog', 'list']);
  expect(j.exitCode).toBe(0);
  const rows = JSON.parse(j.stdout) as { id: string; verification: string; sha256: string }[];
  const row = rows.find((x) => x.id === backup.backupId)!;
  expect(row.verification).toBe('VERIFIED');
  expect(row.sha256).toBe(manifest.artifact.sha256);
  const t = await cli(configFile, ['catalog', 'list']);
  expect(t.stdout).toMatch(new RegExp(`${backup.backupId}\\s+lab\\s+full .* VERIFIED`));
  const csv = await cli(configFile, ['catalog', 'list', '--csv']);
  expect(csv.stdout.split('\n')[0]).toBe('timestamp,type,level,path,size,checksum,id,verification,target,check');
});

test('a corrupt artifact is refused, naming the cause, before anything on the target changes', async () => {
  const src = join(repo, backup.path);
  const id = 'db-full-19990101T000000Z';
  const dst = join(repo, 'clouds/lab/database', id);
  cpSync(src, dst, { recursive: true });
  rmSync(join(dst, 'verifications'), { recursive: true, force: true });
  const m = JSON.parse(readFileSync(join(dst, 'manifest.json'), 'utf8')) as ArtifactManifest;
  writeFileSync(join(dst, 'manifest.json'), JSON.stringify({ ...m, id, startedAt: '1999-01-01T00:00:00.000Z' }));
  // flip one bit of one byte in the middle (XOR: a write of a fixed value may change nothing)
  const fd = openSync(join(dst, m.artifact.file), 'r+');
  const at = Math.floor(m.artifact.bytes / 2);
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, at);
  b[0] = b[0]! ^ 0x01;
  writeSync(fd, b, 0, 1, at);
  closeSync(fd);
  expect(sha256(join(dst, m.artifact.file))).not.toBe(m.artifact.sha256);
  const before = await liveFacts('ctl2', TABLES);
  const asideBefore = readdirSync(join(labDir(), 'ctl2')).filter((n) => n.startsWith('data.before-'));
  try {
    const r = await cli(configFile, ['restore', 'db', '--to', 'ctl2', '--backup', id]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/ChecksumMismatch|gpg rejected/);
    expect(r.stderr).toMatch(/corrupt|damaged/);
    expect(r.stderr).toMatch(
      new RegExp(`Fix: restore ${backup.backupId}, the newest restore point whose chain is intact`),
    );
    // the target still runs on the data it had
    expect(await liveFacts('ctl2', TABLES)).toEqual(before);
    expect(readdirSync(join(labDir(), 'ctl2')).filter((n) => n.startsWith('data.before-'))).toEqual(asideBefore);
  } finally {
    rmSync(dst, { recursive: true, force: true });
  }
});

describe('bad inputs get a clear, non-retryable error and lose nothing', () => {
  let badConfig: string;
  let badWorker: WorkerProcess;
  const wrongPass = join(mkdtempSync(join(tmpdir(), 'osb-wrong-')), 'passphrase');

  beforeAll(async () => {
    writeFileSync(wrongPass, 'not-the-passphrase-this-backup-was-made-with\n', { mode: 0o600 });
    badConfig = deriveConfig('bad', (c) => {
      c.encryption.passphrase = { file: wrongPass };
      c.encryption.recipientKeyFiles = [];
      const tampered = structuredClone(c.clouds.lab);
      // a pinned fingerprint that is not ctl1's key: a man in the middle, as far as osbackup knows
      tampered.hosts.ctl1.hostKeyFingerprint = 'SHA256:' + 'A'.repeat(43);
      c.clouds.tampered = tampered;
    });
    badWorker = await startWorker(badConfig);
  });
  afterAll(async () => {
    await badWorker?.stop();
  });

  test('a wrong passphrase is named as such; the target is untouched', async () => {
    const before = await liveFacts('ctl2', TABLES);
    const r = await cli(badConfig, ['restore', 'db', '--cloud', 'lab', '--to', 'ctl2']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/\[DecryptionFailed\] cannot decrypt/);
    // it names what the artifact needs: the recipient key's fingerprint and/or the right passphrase
    expect(r.stderr).toMatch(/encrypted to the key [0-9A-F]{40} and\/or a passphrase/);
    expect(r.stderr).toMatch(
      /Fix: import the escrowed secret key for [0-9A-F]{40}.*or set encryption.passphrase to the passphrase these backups were made with/,
    );
    expect(r.stderr).not.toContain('not-the-passphrase');
    expect(await liveFacts('ctl2', TABLES)).toEqual(before);
  });

  test('an unexpected host key is refused (never trusted silently) and nothing is published', async () => {
    const listed = () => readdirSync(join(repo, 'clouds/lab/database')).length;
    const n = listed();
    const t0 = Date.now();
    const r = await cli(badConfig, ['backup', 'db', '--cloud', 'tampered', '--wait']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/\[SshHostKeyMismatch\] host ctl1 .* does not match the pinned SHA256:A{43}/);
    expect(Date.now() - t0).toBeLessThan(30_000); // non-retryable: no minutes of retries
    expect(listed()).toBe(n);
    expect(existsSync(join(repo, 'clouds/tampered'))).toBe(false);
  });
});
