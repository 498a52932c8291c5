// Logical dumps on the real lab: ctl1's schemas dumped while a writer keeps committing
// transactions that touch two schemas at once, restored into ctl2 (the restore target): row
// counts and content equal ctl1's at the snapshot, and the two schemas always agree (one
// snapshot for all). The files open by hand with gpg + zstd + mariadb to the same data; a
// corrupt file is refused before anything is imported; a user without the grants is refused
// with the GRANT statement.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import type { DumpManifest } from '../../core/dump/dump.js';
import { parse } from 'yaml';
import type { TierResult } from '../../workflows/tiers.js';
import { parseRunJournal, runJournalKey } from '../../core/tiers/run-journal.js';
import {
  cli,
  configWithOwnRepo,
  deriveConfig,
  labDir,
  liveFacts,
  sql,
  startWorker,
  temporalClient,
  type WorkerProcess,
  LAB_TABLES,
} from '../helpers/lab.js';

const run = `${process.pid}${Date.now() % 100000}`;
const X = `dumps_${run}_x`;
const Y = `dumps_${run}_y`;
const SEEDED = LAB_TABLES;
const passphraseFile = join(labDir(), 'secrets/backup-passphrase');
const ctl2 = ['--defaults-file=' + join(labDir(), 'ctl2/my.cnf')];
const { dir, repo, configFile } = configWithOwnRepo('dumps');
let worker: WorkerProcess;
let writer: ResultPromise | undefined;
let m: DumpManifest;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Ordered content hash of a table's rows with id <= upTo (what the table held at the snapshot: ids only grow). */
async function contentHash(host: string, table: string, upTo?: number): Promise<{ rows: number; hash: string }> {
  const where = upTo === undefined ? '' : ` WHERE id <= ${upTo}`;
  const out = await sql(
    host,
    `SET SESSION group_concat_max_len = 1073741824; SELECT COUNT(*), SHA2(IFNULL(GROUP_CONCAT(CONCAT_WS(',', id, v) ORDER BY id SEPARATOR ';'), ''), 256) FROM ${table}${where}`,
  );
  const [rows, hash] = out.trim().split('\t');
  return { rows: Number(rows), hash: hash! };
}

async function maxId(host: string, table: string): Promise<number> {
  return Number((await sql(host, `SELECT IFNULL(MAX(id), 0) FROM ${table}`)).trim());
}

beforeAll(async () => {
  await sql(
    'ctl1',
    `CREATE DATABASE ${X}; CREATE DATABASE ${Y};
    CREATE TABLE ${X}.a (id INT PRIMARY KEY, v VARCHAR(40));
    CREATE TABLE ${Y}.b (id INT PRIMARY KEY, v VARCHAR(40));
    CREATE TABLE ${Y}.audit (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(40));
    CREATE TRIGGER ${Y}.b_audit AFTER INSERT ON ${Y}.b FOR EACH ROW INSERT INTO ${Y}.audit (v) VALUES (NEW.v);
    CREATE VIEW ${Y}.b_view AS SELECT id, v FROM ${Y}.b;
    CREATE PROCEDURE ${Y}.b_count() SELECT COUNT(*) FROM ${Y}.b;
    CREATE EVENT ${Y}.noop ON SCHEDULE EVERY 1 DAY DISABLE DO SELECT 1;`,
  );
  worker = await startWorker(configFile);
});

afterAll(async () => {
  writer?.kill();
  await worker?.stop();
  for (const s of [X, Y]) {
    await sql('ctl1', `DROP DATABASE IF EXISTS ${s}`).catch(() => undefined);
    await sql('ctl2', `DROP DATABASE IF EXISTS ${s}`).catch(() => undefined);
  }
  rmSync(dir, { recursive: true, force: true });
});

test('a dump taken while a writer commits to two schemas at once restores into ctl2 equal to ctl1 at the snapshot', async () => {
  // every transaction writes the same id into both schemas: in one snapshot they always agree
  const w = execa('mariadb', ['--defaults-file=' + join(labDir(), 'ctl1/my.cnf')], { stdin: 'pipe', reject: false });
  writer = w;
  let n = 0;
  let stop = false;
  const writing = (async () => {
    while (!stop && w.exitCode === null) {
      n++;
      w.stdin!.write(
        `BEGIN; INSERT INTO ${X}.a VALUES (${n}, 'x${n}'); INSERT INTO ${Y}.b VALUES (${n}, 'y${n}'); COMMIT;\n`,
      );
      await sleep(5);
    }
  })();
  while ((await maxId('ctl1', `${Y}.b`)) < 200) await sleep(100);

  const r = await cli(configFile, ['--json', 'backup', 'dump', '--cloud', 'lab']);
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  const res = JSON.parse(r.stdout) as { dumpId: string; path: string; schemas: { name: string }[] };
  // the writer is still going: the dump was taken under load
  const during = await maxId('ctl1', `${Y}.b`);
  await sleep(300);
  expect(await maxId('ctl1', `${Y}.b`)).toBeGreaterThan(during);
  stop = true;
  await writing;
  w.stdin!.end();
  await w;
  writer = undefined;

  m = JSON.parse(readFileSync(join(repo, res.path, 'manifest.json'), 'utf8')) as DumpManifest;
  expect(m.component).toBe('dump');
  expect(m.kind).toBe('logical');
  expect(m.source.host).toBe('ctl1');
  const names = m.dump.schemas.map((s) => s.name);
  for (const s of [X, Y, 'nova', 'keystone']) expect(names).toContain(s);
  expect(names).not.toContain('mysql');
  expect(m.dump.binlog?.file).toMatch(/^mysql-bin\.\d+$/);
  expect(m.dump.gtid).toMatch(/^\d+-\d+-\d+/);
  expect(Date.parse(m.dump.snapshotNotBefore)).toBeLessThanOrEqual(Date.parse(m.dump.snapshotAt));
  for (const s of m.dump.schemas) {
    const file = join(repo, res.path, s.file);
    expect(createHash('sha256').update(readFileSync(file)).digest('hex')).toBe(s.sha256);
  }
  expect(m.dump.schemas.find((s) => s.name === Y)?.tables).toBe(2);
  expect(readFileSync(join(repo, res.path, 'RESTORE.md'), 'utf8')).toContain(`| zstd -d | mariadb`);

  // into ctl2, every schema of the dump
  const rr = await cli(configFile, ['--json', 'restore', 'dump', '--cloud', 'lab', '--to', 'ctl2', '--id', m.id]);
  expect(rr.stderr).toBe('');
  expect(rr.exitCode).toBe(0);

  // one snapshot: the two schemas hold exactly the same transactions
  const upTo = await maxId('ctl2', `${X}.a`);
  expect(upTo).toBeGreaterThan(0);
  expect(await maxId('ctl2', `${Y}.b`)).toBe(upTo);
  expect(Number(await sql('ctl2', `SELECT COUNT(*) FROM ${Y}.audit`))).toBe(upTo); // the trigger's rows, from the same snapshot
  // and they equal ctl1 at the snapshot, row for row
  for (const t of [`${X}.a`, `${Y}.b`]) {
    const restored = await contentHash('ctl2', t);
    expect(restored).toEqual(await contentHash('ctl1', t, upTo));
    expect(restored.rows).toBe(upTo);
  }
  // the seeded tables (not written meanwhile): counts and CHECKSUM TABLE equal ctl1's
  expect(await liveFacts('ctl2', SEEDED)).toEqual(await liveFacts('ctl1', SEEDED));
  // views, triggers, routines and events came along
  expect(await sql('ctl2', `SELECT COUNT(*) FROM ${Y}.b_view`)).toBe(String(upTo));
  expect(await sql('ctl2', `SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema='${Y}'`)).toBe('1');
  expect(await sql('ctl2', `SELECT COUNT(*) FROM information_schema.routines WHERE routine_schema='${Y}'`)).toBe('1');
  expect(await sql('ctl2', `SELECT COUNT(*) FROM information_schema.events WHERE event_schema='${Y}'`)).toBe('1');

  // the catalog lists it
  const cat = await cli(configFile, ['--json', 'catalog', 'list', '--cloud', 'lab']);
  expect(
    (JSON.parse(cat.stdout) as { id: string; component: string }[]).some(
      (row) => row.id === m.id && row.component === 'dump',
    ),
  ).toBe(true);
});

test('opened by hand (gpg | zstd -d | mariadb, and the folder’s restore.sh) a dump gives the same data as the tool’s restore', async () => {
  const folder = join(repo, `clouds/lab/dump/${m.id}`);
  const byTool = { x: await contentHash('ctl2', `${X}.a`), y: await contentHash('ctl2', `${Y}.b`) };
  await sql('ctl2', `DROP DATABASE ${X}; DROP DATABASE ${Y}`);
  // the recipe's pipe, stock tools only
  const sqlFile = join(dir, `${X}.sql`);
  const gpg = `GNUPGHOME=${mkdtempSync(join(tmpdir(), 'osb-gpg-'))} gpg --batch --quiet --pinentry-mode loopback --passphrase-file ${passphraseFile} --decrypt ${join(folder, `${X}.sql.zst.gpg`)}`;
  await execa('bash', ['-c', `set -o pipefail; ${gpg} | zstd -dq > ${sqlFile}`]);
  expect(createHash('sha256').update(readFileSync(sqlFile)).digest('hex')).toBe(
    m.dump.schemas.find((s) => s.name === X)!.plainSha256,
  );
  await execa('bash', ['-c', `set -o pipefail; ${gpg} | zstd -d | mariadb ${ctl2[0]}`]);
  // the folder's script, for the other schema
  const sh = await execa('bash', [join(folder, 'restore.sh'), Y], {
    env: {
      PASSPHRASE_FILE: passphraseFile,
      MARIADB: `mariadb ${ctl2[0]}`,
      GNUPGHOME: mkdtempSync(join(tmpdir(), 'osb-gpg-')),
    },
    reject: false,
    cwd: dir,
    stdin: 'ignore',
  });
  expect(sh.stderr).not.toMatch(/corrupt|ERROR/);
  expect(sh.exitCode).toBe(0);
  expect(await contentHash('ctl2', `${X}.a`)).toEqual(byTool.x);
  expect(await contentHash('ctl2', `${Y}.b`)).toEqual(byTool.y);
});

test('a corrupt dump file is refused at restore, named, before anything is imported', async () => {
  const file = join(repo, `clouds/lab/dump/${m.id}/${Y}.sql.zst.gpg`);
  const good = readFileSync(file);
  const bad = Buffer.from(good);
  bad[Math.floor(bad.length / 2)]! ^= 0xff;
  writeFileSync(file, bad);
  await sql('ctl2', `CREATE TABLE ${X}.untouched (id INT PRIMARY KEY)`);
  try {
    const r = await cli(configFile, [
      'restore',
      'dump',
      '--cloud',
      'lab',
      '--to',
      'ctl2',
      '--id',
      m.id,
      '--schemas',
      `${X},${Y}`,
    ]);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain(`${Y}.sql.zst.gpg is corrupt`);
    expect(r.stderr).toMatch(/nothing on the target was touched/);
    // X comes before Y in the restore, yet it was not imported: the hashes are checked first
    expect(
      await sql(
        'ctl2',
        `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='${X}' AND table_name='untouched'`,
      ),
    ).toBe('1');
  } finally {
    writeFileSync(file, good);
  }
});

test('a backup user without SHOW VIEW, TRIGGER and EVENT is refused at once with the GRANT statement', async () => {
  const user = `osbdump${run}`.slice(0, 32);
  const pwFile = join(dir, 'weak-password');
  writeFileSync(pwFile, 'weak-pass-1', { mode: 0o600 });
  await sql(
    'ctl1',
    `SET SESSION sql_log_bin=0; CREATE USER '${user}'@'localhost' IDENTIFIED BY 'weak-pass-1'; GRANT SELECT, RELOAD, LOCK TABLES, BINLOG MONITOR ON *.* TO '${user}'@'localhost'`,
  );
  const weak = deriveConfig('dumps-weak', (c) => {
    c.repository.path = join(dir, 'weak-repo');
    c.clouds.lab.database.user = user;
    c.clouds.lab.database.password = { file: pwFile };
  });
  const w = await startWorker(weak);
  try {
    const t0 = Date.now();
    const r = await cli(weak, ['backup', 'dump', '--cloud', 'lab']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain(`GRANT SHOW VIEW, TRIGGER, EVENT ON *.* TO '${user}'@'localhost'`);
    expect(Date.now() - t0).toBeLessThan(30_000); // refused, not retried
  } finally {
    await w.stop();
    await sql('ctl1', `SET SESSION sql_log_bin=0; DROP USER '${user}'@'localhost'`).catch(() => undefined);
  }
});

test('the dump tier (a schedule entry, off by default) takes a dump like `backup dump` and journals the run', async () => {
  const { client, close } = await temporalClient(configFile);
  try {
    const r = (await client.workflow.execute('tierWorkflow', {
      taskQueue: parse(readFileSync(configFile, 'utf8')).temporal.taskQueue,
      workflowId: `lab-dump-test-${run}`,
      args: [{ cloud: 'lab', tier: 'dump' }],
    })) as TierResult;
    expect(r.tier).toBe('dump');
    expect(r.backupId).toBe(r.dump!.dumpId);
    const manifest = JSON.parse(readFileSync(join(repo, r.dump!.path, 'manifest.json'), 'utf8')) as DumpManifest;
    expect(manifest.component).toBe('dump');
    expect(manifest.dump.schemas.map((s) => s.name)).toEqual(expect.arrayContaining(['keystone', 'nova', X, Y]));
    const journal = parseRunJournal(readFileSync(join(repo, runJournalKey('lab', 'dump')), 'utf8'))!;
    expect(journal.lastSuccess).toMatchObject({ workflowId: `lab-dump-test-${run}`, backupId: r.dump!.dumpId });
  } finally {
    await close();
  }
}, 180_000);
