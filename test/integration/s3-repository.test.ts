// The repository in the lab's OpenStack Swift (s3api): backups stream into multipart uploads with
// no copy on the worker's disk, restore onto ctl2, scrub, the hand recipe fetched with curl, a
// backup cancelled or whose worker is killed mid-upload, and retention in the bucket.
// Env: OSBACKUP_S3_ENDPOINT and OSBACKUP_S3_KEY_DIR (set by ./dev itest and ./dev test).
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { CatalogEntry } from '../../core/catalog/catalog.js';
import type { ArtifactManifest } from '../../core/manifest/manifest.js';
import type { RetentionTargetResult } from '../../workflows/retention.js';
import { S3Store } from '../../activities/storage/s3-store.js';
import {
  cli,
  deriveConfig,
  labDir,
  onlyClouds,
  liveFacts,
  sql,
  startWorker,
  temporalClient,
  type WorkerProcess,
} from '../helpers/lab.js';

const endpoint = process.env.OSBACKUP_S3_ENDPOINT;
const keyDir = process.env.OSBACKUP_S3_KEY_DIR;
if (!endpoint || !keyDir) {
  test('S3 repository environment', () => {
    throw new Error(
      'OSBACKUP_S3_ENDPOINT and OSBACKUP_S3_KEY_DIR are not set: run the suite with ./dev itest (it sets them from the lab)',
    );
  });
}
const configured = Boolean(endpoint && keyDir);
const dir = keyDir ?? '';
const bucket = configured ? readFileSync(join(dir, 's3-bucket'), 'utf8').trim() : '';
const prefix = `s3repo-${process.pid}-${Date.now()}/`;
const SCHEMA = `s3repo_${process.pid}`;
const TABLES = ['keystone.project', 'nova.instances', `${SCHEMA}.t`];
const repository = {
  type: 's3',
  name: 'bucket',
  endpoint,
  bucket,
  prefix,
  forcePathStyle: true,
  checksumMode: 'WHEN_REQUIRED',
  deleteMode: 'batch-md5',
  maxParts: 1000,
  // several parts even for the lab's ~10 MB backups: the multipart ETag is what is confirmed
  partSizeMiB: 5,
  accessKeyId: { file: join(dir, 's3-access-key') },
  secretAccessKey: { file: join(dir, 's3-secret-key') },
};
const configFile = configured
  ? deriveConfig('s3repo', (c) => {
      c.repository = repository;
      // only the lab cloud: the others' control-plane, OpenStack, drill and rebuild sections need a
      // folder repository (refused at config check)
      onlyClouds(c, 'lab');
      c.clouds.lab.database.verifyTables = TABLES.slice(0, 2);
    })
  : '';

let worker: WorkerProcess;
let store: S3Store;
const ids: string[] = [];
const workflows: string[] = [];

async function run(args: string[]) {
  const r = await cli(configFile, ['--json', ...args]);
  if (r.exitCode !== 0) throw new Error(`osbackup ${args.join(' ')} exited ${r.exitCode}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}
const folder = (id: string) => `clouds/lab/database/${id}`;
const keysUnder = async (p: string) => (await store.list(p)).map((o) => o.key).sort();
const openUploads = () => store.listUploads('clouds/');
async function sha256Of(key: string): Promise<string> {
  const h = createHash('sha256');
  for await (const b of await store.getStream(key)) h.update(b as Buffer);
  return h.digest('hex');
}

(configured ? describe : describe.skip)('an S3 repository (the lab Swift)', () => {
  beforeAll(async () => {
    store = await S3Store.fromTarget(
      {
        ...repository,
        endpoint: endpoint!,
        region: 'us-east-1',
        contentMd5: true,
        queueSize: 4,
        requestTimeoutSeconds: 60,
        staleUploadHours: 24,
      } as never,
      process.env,
    );
    await sql(
      'ctl1',
      `CREATE DATABASE IF NOT EXISTS ${SCHEMA}; USE ${SCHEMA}; CREATE TABLE ${SCHEMA}.t (id INT PRIMARY KEY, v VARCHAR(64)); INSERT INTO ${SCHEMA}.t SELECT seq, md5(seq) FROM seq_1_to_5000`,
    );
    worker = await startWorker(configFile);
  }, 120_000);

  afterAll(async () => {
    await worker?.stop();
    const { client, close } = await temporalClient(configFile);
    for (const id of workflows)
      await client.workflow
        .getHandle(id)
        .terminate('test over')
        .catch(() => undefined);
    await close();
    await sql('ctl1', `DROP DATABASE IF EXISTS ${SCHEMA}`).catch(() => undefined);
    await store.abortStaleUploads('', 0).catch(() => undefined);
    await store.deleteMany((await store.list('')).map((o) => o.key)).catch(() => undefined);
    store?.destroy();
  }, 60_000);

  test('config check refuses a control-plane section next to an S3 repository, naming the limitation', async () => {
    const bad = deriveConfig('s3repo-bad', (c) => (c.repository = repository));
    const r = await cli(bad, ['config', 'check']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('clouds.kolla.controlPlane');
    expect(r.stderr).toMatch(/S3 repository .* holds full and incremental database backups only/);
  });

  test('a full and an incremental stream into the bucket: manifest last, size and hash equal, no upload left open', async () => {
    const full = await run(['backup', 'db', '--full', '--wait']);
    await sql('ctl1', `USE ${SCHEMA}; INSERT INTO t SELECT seq, sha1(seq) FROM seq_5001_to_9000`);
    const inc = await run(['backup', 'db', '--incremental', '--wait']);
    expect(inc.parentId).toBe(full.backupId);
    ids.push(full.backupId, inc.backupId);
    for (const r of [full, inc]) {
      const dir = folder(r.backupId);
      expect(await keysUnder(`${dir}/`)).toEqual(
        ['RESTORE.md', 'data.xb.zst.gpg', 'manifest.json', 'restore.sh'].map((f) => `${dir}/${f}`),
      );
      const m = JSON.parse(await store.getText(`${dir}/manifest.json`)) as ArtifactManifest;
      expect(m.artifact).toMatchObject({ bytes: r.bytes, sha256: r.sha256 });
      expect((await store.head(`${dir}/data.xb.zst.gpg`))!.size).toBe(r.bytes);
      expect(await sha256Of(`${dir}/data.xb.zst.gpg`)).toBe(r.sha256);
    }
    // more than one part: the ETag Swift computed over the parts was compared with the worker's
    expect((await store.head(`${folder(full.backupId)}/data.xb.zst.gpg`))!.etag).toMatch(/-\d+"?$/);
    expect(await openUploads()).toEqual([]);
  }, 180_000);

  test('restore from the bucket onto ctl2: VERIFIED, rows and checksums equal to the source', async () => {
    const r = await run(['restore', 'db', '--to', 'ctl2']);
    expect(r.chain).toEqual(ids);
    expect(r.verification).toBe('VERIFIED');
    expect(await liveFacts('ctl2', TABLES)).toEqual(await liveFacts('ctl1', TABLES));
    expect(Number(await sql('ctl2', `SELECT COUNT(*) FROM ${SCHEMA}.t`))).toBe(9000);
    // the verified restore's facts and record are kept in the bucket beside the manifest
    const keys = await keysUnder(`${folder(ids[1]!)}/`);
    expect(keys).toContain(`${folder(ids[1]!)}/facts.json`);
    expect(keys.some((k) => k.includes('/verifications/'))).toBe(true);
  }, 240_000);

  test('verify re-reads the bucket: every artifact CHECKED, catalogued on the repository', async () => {
    const r = await run(['verify', '--target', 'bucket']);
    expect(r.ok).toBe(true);
    const rows = (await run(['catalog', 'list', '--target', 'bucket'])) as CatalogEntry[];
    expect(rows.map((x) => [x.id, x.check])).toEqual(ids.map((id) => [id, 'CHECKED']));
  }, 120_000);

  test('the hand recipe: restore.sh fetched with curl downloads, checks and prepares the chain (osbackup off PATH)', async () => {
    const dir = folder(ids[1]!);
    const recipe = await store.getText(`${dir}/RESTORE.md`);
    expect(recipe).toContain(`s3://${bucket}/${prefix}${dir}/data.xb.zst.gpg`);
    expect(recipe).toContain(`--endpoint-url ${endpoint}`);
    expect(recipe).toContain(`--aws-sigv4 "aws:amz:us-east-1:s3"`);
    const work = mkdtempSync(join(tmpdir(), 'osb-s3hand-'));
    const keys = { access: join(keyDir!, 's3-access-key'), secret: join(keyDir!, 's3-secret-key') };
    try {
      // stock tools only, as the recipe says: curl with SigV4, the key pair in a netrc on a pipe
      const script = join(work, 'restore.sh');
      const get = await execa(
        'bash',
        [
          '-c',
          `curl -fsS --netrc-file <(printf 'machine %s login %s password %s\\n' ${new URL(endpoint!).hostname} "$(cat ${keys.access})" "$(cat ${keys.secret})") --aws-sigv4 "aws:amz:us-east-1:s3" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -o ${script} ${endpoint}/${bucket}/${prefix}${dir}/restore.sh`,
        ],
        { reject: false },
      );
      expect(get.stderr).toBe('');
      const r = await execa('bash', [script], {
        env: {
          PATH: '/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin', // no node, no osbackup
          PASSPHRASE_FILE: join(labDir(), 'secrets/backup-passphrase'),
          WORK_DIR: join(work, 'work'),
          STOP_AFTER: 'prepare',
          S3_ACCESS_KEY_FILE: keys.access,
          S3_SECRET_KEY_FILE: keys.secret,
          GNUPGHOME: mkdtempSync(join(tmpdir(), 'osb-gnupg-')),
        },
        extendEnv: false,
        reject: false,
        cwd: '/',
      });
      expect(r.stderr).toBe('');
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toContain('0/5 downloading the chain');
      expect(r.stdout).toContain('applying 1 incremental(s) in order');
      expect(readFileSync(join(work, 'work/0/xtrabackup_checkpoints'), 'utf8')).toMatch(/backup_type = log-applied/);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 180_000);

  describe('a backup stopped mid-upload', () => {
    beforeAll(async () => {
      // incompressible rows: the stream then takes long enough to be caught mid-upload
      await sql(
        'ctl1',
        `USE ${SCHEMA}; CREATE TABLE ${SCHEMA}.big (id INT PRIMARY KEY, b BLOB) ENGINE=InnoDB; INSERT INTO ${SCHEMA}.big SELECT seq, random_bytes(1024) FROM seq_1_to_200000`,
      );
    }, 180_000);
    afterAll(async () => {
      await sql('ctl1', `DROP TABLE IF EXISTS ${SCHEMA}.big`).catch(() => undefined);
    });

    async function startFull(name: string) {
      const { client, close } = await temporalClient(configFile);
      const queue = (await import('yaml')).parse(readFileSync(configFile, 'utf8')).temporal.taskQueue as string;
      const workflowId = `s3repo-${name}-${process.pid}-${Date.now()}`;
      workflows.push(workflowId);
      const handle = await client.workflow.start('backupDatabaseWorkflow', {
        taskQueue: queue,
        workflowId,
        args: [{ cloud: 'lab', kind: 'full' }],
      });
      // a multipart upload under the database folder: the stream is past its first part
      const t0 = Date.now();
      let uploads = await openUploads();
      while (!uploads.length) {
        if (Date.now() - t0 > 90_000) throw new Error('the backup never opened a multipart upload');
        await new Promise((r) => setTimeout(r, 100));
        uploads = await openUploads();
      }
      const id = uploads[0]!.key.split('/')[3]!;
      return { handle, id, close };
    }

    test('cancelled: the upload is aborted, no manifest, no object, no open upload', async () => {
      const { handle, id, close } = await startFull('cancel');
      try {
        await handle.cancel();
        await expect(handle.result()).rejects.toThrow();
      } finally {
        await close();
      }
      expect(await keysUnder(`${folder(id)}/`)).toEqual([]);
      expect(await openUploads()).toEqual([]);
    }, 180_000);

    test('worker killed: the next attempt aborts the dead upload and publishes one whole artifact', async () => {
      const { handle, id, close } = await startFull('kill');
      try {
        await worker.stop('SIGKILL');
        // the dead attempt's upload is open, and nothing is published
        expect((await openUploads()).map((u) => u.key)).toEqual([`${folder(id)}/data.xb.zst.gpg`]);
        expect(await keysUnder(`${folder(id)}/`)).toEqual([]);
        worker = await startWorker(configFile);
        const r = (await handle.result()) as { backupId: string; sha256: string };
        expect(r.backupId).toBe(id);
        expect(await openUploads()).toEqual([]);
        expect(await sha256Of(`${folder(id)}/data.xb.zst.gpg`)).toBe(r.sha256);
        ids.push(id);
      } finally {
        await close();
      }
    }, 300_000);
  });

  test('retention deletes from the bucket and keeps the base an incremental needs', async () => {
    const inc = await run(['backup', 'db', '--incremental', '--wait']);
    expect(inc.parentId).toBe(ids[2]);
    ids.push(inc.backupId);
    // one day: the newest restore point stays with its whole chain; the older chain goes
    const r = (await run(['retention', 'apply', '--target', 'bucket'])).targets as RetentionTargetResult[];
    expect(r[0]!.purged.sort()).toEqual([ids[0], ids[1]].sort());
    for (const id of [ids[0], ids[1]]) expect(await keysUnder(`${folder(id!)}/`)).toEqual([]);
    expect(await keysUnder('clouds/lab/.retention/')).toEqual([]);
    // the full the incremental builds on stayed
    expect(await keysUnder(`${folder(ids[2]!)}/`)).toContain(`${folder(ids[2]!)}/manifest.json`);
    const rows = (await run(['catalog', 'list', '--target', 'bucket'])) as CatalogEntry[];
    expect(rows.map((x) => x.id)).toEqual([ids[2], ids[3]]);
  }, 300_000);
});
