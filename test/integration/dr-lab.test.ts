// The lab's "deploy" for a full rebuild (issue 10, part 2): the OpenStack cloud os1 loses its
// control-plane host (`openstack.sh wipe`: processes, databases, configs, Fernet keys, and the
// deploy host's Kolla tree) and is rebuilt from osbackup's backups alone with the phase commands
// drRebuildWorkflow runs (bootstrap-servers, deploy-mariadb, deploy-services <tree>). Each phase
// fails without the restored tree, or with one that does not fit the restored database. In the
// end the rebuilt Keystone issues tokens for the restored admin password, validates a token the
// lost cloud issued (the restored Fernet keys), and the project, the image record and the volume
// with its bytes (on external storage) are there. os1 is left up: other tests use it.
// OSB_DR_LAB_HOST=os2 runs it against a second cloud (OS_LAB_HOST=os2 openstack.sh up) instead.
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  readlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import { loadCredentials } from '../../activities/openstack/credentials.js';
import { OpenStackSession } from '../../activities/openstack/session.js';
import { cinder, glance, VOLUME_MICROVERSION } from '../../activities/openstack/api.js';
import { cli, configWithOwnRepo, labDir, ROOT, startWorker, stepTimer, type WorkerProcess } from '../helpers/lab.js';
import { createVolume, uploadImage, waitVolumes } from '../helpers/openstack.js';

const HOST = process.env.OSB_DR_LAB_HOST ?? 'os1';
const lab = labDir();
const D = join(lab, HOST);
const TREE = join(lab, `${HOST}-kolla`);
const STORAGE = join(lab, `${HOST}-storage`);
const script = join(ROOT, 'test/lab/openstack.sh');
const env = { LAB_DIR: lab, OS_LAB_HOST: HOST };
const phase = (cmd: string, ...args: string[]) =>
  execa(script, [cmd, ...args], { env, reject: false, all: true, timeout: 600_000 });
const tag = `dr-lab-${process.pid}`;

let cfg: ReturnType<typeof configWithOwnRepo>;
let worker: WorkerProcess | undefined;
let authUrl = '';
const ids = { project: '', image: '', volume: '' };
let oldToken = '';
let pattern: Buffer;
const OFFSET = 3 * 1024 * 1024;
let treeBefore: Record<string, string>;
let keysBefore: Record<string, string>;
const { timings, timed } = stepTimer();

const osb = async (...args: string[]) => {
  const r = await cli(cfg.configFile, ['--json', ...args, '--cloud', 'openstack']);
  if (r.exitCode !== 0) throw new Error(`osbackup ${args.join(' ')} exited ${r.exitCode}: ${r.stderr}\n${r.stdout}`);
  return JSON.parse(r.stdout);
};

const session = () =>
  new OpenStackSession(loadCredentials({ cloudsYaml: join(D, 'clouds.yaml'), cloud: 'osb-lab' }, {}));
const adminPassword = () => /OS_PASSWORD=(\S+)/.exec(readFileSync(join(TREE, 'admin-openrc.sh'), 'utf8'))![1]!;

async function issueToken(password: string): Promise<{ token: string; catalog: { type: string }[] }> {
  const res = await fetch(`${authUrl}/auth/tokens`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: 'admin', domain: { name: 'Default' }, password } },
        },
        scope: { project: { name: 'admin', domain: { name: 'Default' } } },
      },
    }),
  });
  if (res.status !== 201) throw new Error(`Keystone issued no token: HTTP ${res.status}`);
  const body = (await res.json()) as { token: { catalog: { type: string }[] } };
  return { token: res.headers.get('x-subject-token')!, catalog: body.token.catalog };
}

/** HTTP status of validating `subject` with `auth` (200: Keystone can decrypt it with its keys). */
async function validate(auth: string, subject: string): Promise<number> {
  return (await fetch(`${authUrl}/auth/tokens`, { headers: { 'X-Auth-Token': auth, 'X-Subject-Token': subject } }))
    .status;
}

/** Every entry of a tree: type, mode, numeric owner, content hash or link target. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const p = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, p));
      const meta = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
      if (st.isSymbolicLink()) out[p] = `link ${readlinkSync(join(dir, p))}`;
      else if (st.isDirectory()) {
        out[p] = `dir ${meta}`;
        walk(p);
      } else
        out[p] = `file ${meta} ${createHash('sha256')
          .update(readFileSync(join(dir, p)))
          .digest('hex')}`;
    }
  };
  walk('');
  return out;
}

function volumeBytes(id: string): Buffer {
  const fd = openSync(join(STORAGE, 'nfs-export', `volume-${id}`), 'r');
  try {
    const b = Buffer.alloc(pattern.length);
    readSync(fd, b, 0, b.length, OFFSET);
    return b;
  } finally {
    closeSync(fd);
  }
}

const namespaces = async () => (await execa('ip', ['netns', 'list'])).stdout;

beforeAll(async () => {
  // a cloud brought up before it was deployed from a tree (the lab of an older checkout) is
  // brought up anew by this checkout's script first (~2.5 min, once)
  if (!existsSync(join(TREE, 'globals.yml')) || (await phase('status')).exitCode !== 0) {
    const up = await phase('up');
    if (up.exitCode !== 0) throw new Error(`openstack.sh up failed:\n${up.all}`);
  }
  const fragment = parse(readFileSync(join(D, 'cloud.yml'), 'utf8')) as { openstack: Record<string, any> };
  authUrl = `http://${fragment.openstack.hosts[HOST].address}:5000/v3`;
  cfg = configWithOwnRepo('dr-lab', (c) => {
    c.clouds.openstack = fragment.openstack;
  });
  worker = await startWorker(cfg.configFile);

  // the cloud's data: a project, an image, a volume with a pattern written into its file
  const s = session();
  const { token } = await issueToken(adminPassword());
  oldToken = token;
  const p = await fetch(`${authUrl}/projects`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Auth-Token': token },
    body: JSON.stringify({ project: { name: tag, domain_id: 'default' } }),
  });
  ids.project = ((await p.json()) as { project: { id: string } }).project.id;
  ids.image = await uploadImage(s, tag, randomBytes(256 * 1024));
  ids.volume = await createVolume(s, tag, { test: 'dr-lab' });
  await waitVolumes(s, [ids.volume], 'available');
  pattern = randomBytes(64 * 1024);
  const fd = openSync(join(STORAGE, 'nfs-export', `volume-${ids.volume}`), 'r+');
  writeSync(fd, pattern, 0, pattern.length, OFFSET);
  closeSync(fd);
  treeBefore = tree(TREE);
  keysBefore = tree(join(D, 'srv/keystone'));
}, 600_000);

afterAll(async () => {
  await worker?.stop();
  // os1 is shared: whatever happened above, it is left up (a fresh one if the rebuild failed)
  if ((await phase('status')).exitCode !== 0) await phase('up');
  else if (ids.volume) {
    const s = session();
    await s
      .request('volume', 'DELETE', `/volumes/${ids.volume}`, { microversion: VOLUME_MICROVERSION, accept: [404, 400] })
      .catch(() => undefined);
    await glance.deleteImage(s, ids.image).catch(() => undefined);
    const { token } = await issueToken(adminPassword());
    await fetch(`${authUrl}/projects/${ids.project}`, { method: 'DELETE', headers: { 'X-Auth-Token': token } }).catch(
      () => undefined,
    );
  }
  console.log(`dr-lab timings (s): ${JSON.stringify(timings)}`);
}, 600_000);

test('rebuilt from backups alone: the phases fail without the restored tree, then Keystone, the data and the volume bytes are back', async () => {
  // 1. backups: the database (full) and the control plane (ctl3's tree + os1's Keystone keys)
  const db = await timed('backup db', () => osb('backup', 'db', '--full', '--wait'));
  const cp = await timed('backup control-plane', () => osb('backup', 'control-plane'));
  expect(cp.parts.map((x: { kind: string; host: string }) => `${x.kind}@${x.host}`).sort()).toEqual([
    `keystone-keys@${HOST}`,
    'kolla-config@ctl3',
  ]);
  expect(cp.missing).toEqual([]);

  // 2. the control-plane host is lost; the external storage and the host key are not
  await timed('wipe', async () => expect((await phase('wipe')).exitCode).toBe(0));
  expect(await namespaces()).not.toMatch(new RegExp(`\\bosb-${HOST}\\b`));
  expect(existsSync(D)).toBe(false);
  expect(existsSync(TREE)).toBe(false);
  expect(volumeBytes(ids.volume).equals(pattern)).toBe(true);

  // 3. no tree, no deploy: every phase says what is missing and how to get it back
  for (const p of ['bootstrap-servers', 'deploy-mariadb', 'deploy-services']) {
    const r = await phase(p, TREE);
    expect({ p, exitCode: r.exitCode }).toEqual({ p, exitCode: 1 });
    expect(r.all).toContain(
      `no Kolla config tree at ${TREE}: restore it first (osbackup restore config --cloud openstack --to ctl3 --path ${TREE})`,
    );
  }

  // 4. the tree back on the deploy host, equal to what was lost (owners and modes too)
  const rc = await timed('restore config', () => osb('restore', 'config', '--to', 'ctl3', '--path', TREE));
  expect(rc.restoredFiles).toBeGreaterThanOrEqual(13);
  expect(tree(TREE)).toEqual(treeBefore);

  // 5. the host (same host key: osbackup's pinned fingerprint matches below) and an empty MariaDB
  await timed('bootstrap-servers', async () => expect((await phase('bootstrap-servers', TREE)).exitCode).toBe(0));
  await timed('deploy-mariadb', async () => expect((await phase('deploy-mariadb', TREE)).exitCode).toBe(0));
  const schemas = await execa('mariadb', [
    `--defaults-file=${D}/my.cnf`,
    '-N',
    '-e',
    "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name IN ('keystone','nova','cinder')",
  ]);
  expect(schemas.stdout.trim()).toBe('0');
  const early = await phase('deploy-services', TREE);
  expect(early.exitCode).toBe(1);
  expect(early.all).toMatch(/the database on \S+ has no keystone .* schema: restore the database first/);

  // 6. the database restored into it, proven against the backup's recorded facts
  const rdb = await timed('restore db', () => osb('restore', 'db', '--to', HOST, '--backup', db.backupId));
  expect(rdb.verification).toBe('VERIFIED');

  // 7. a tree that does not fit the restored database (another cloud's passwords) is refused
  const wrong = mkdtempSync(join(tmpdir(), 'osb-dr-wrong-tree-'));
  cpSync(TREE, wrong, { recursive: true });
  const dbpw = /openstack_database_password: "(\S+)"/.exec(readFileSync(join(TREE, 'passwords.yml'), 'utf8'))![1]!;
  for (const f of [
    'passwords.yml',
    'keystone/keystone.conf',
    'glance/glance-api.conf',
    'cinder/cinder.conf',
    'nova/nova.conf',
    'placement/placement.conf',
    'neutron/neutron.conf',
  ]) {
    writeFileSync(join(wrong, f), readFileSync(join(wrong, f), 'utf8').replaceAll(dbpw, 'NotThisCloudsPassword1'));
  }
  const bad = await phase('deploy-services', wrong);
  expect(bad.exitCode).toBe(1);
  expect(bad.all).toContain("passwords.yml's openstack_database_password does not open");
  writeFileSync(join(wrong, 'passwords.yml'), readFileSync(join(TREE, 'passwords.yml')));
  expect((await phase('deploy-services', wrong)).all).toContain('disagrees with its passwords.yml');

  // 8. the services from the tree, over the restored schemas (no db_sync, no bootstrap)
  const ds = await timed('deploy-services', () => phase('deploy-services', TREE));
  expect({ exitCode: ds.exitCode, out: ds.exitCode ? ds.all : '' }).toEqual({ exitCode: 0, out: '' });
  expect(ds.all).toContain('no Fernet keys');
  expect(ds.all).not.toMatch(/db_sync|bootstrap/);
  const before = await issueToken(adminPassword()); // the restored admin password works at once
  expect(await validate(before.token, oldToken)).not.toBe(200); // but these keys are not the lost cloud's

  // 9. the Fernet keys restored (after the start: Keystone reads them at every request)
  const rk = await timed('restore keys', () => osb('restore', 'keys'));
  expect(rk.hosts.map((h: { host: string }) => h.host)).toEqual([HOST]);
  expect(tree(join(D, 'srv/keystone'))).toEqual(keysBefore);

  // 10. verify: a token from the rebuilt Keystone, the catalog, the lost cloud's token, the data
  const cliEnv = { OS_CLIENT_CONFIG_FILE: join(D, 'clouds.yaml') };
  const issued = await execa('openstack', ['--os-cloud', 'osb-lab', 'token', 'issue', '-f', 'json'], { env: cliEnv });
  const newToken = (JSON.parse(issued.stdout) as { id: string }).id;
  expect(await validate(newToken, oldToken)).toBe(200);
  const catalog = JSON.parse(
    (await execa('openstack', ['--os-cloud', 'osb-lab', 'catalog', 'list', '-f', 'json'], { env: cliEnv })).stdout,
  ) as { Type: string }[];
  expect(catalog.map((c) => c.Type).sort()).toEqual([
    'compute',
    'identity',
    'image',
    'network',
    'placement',
    'volumev3',
  ]);
  const projects = await fetch(`${authUrl}/projects?name=${tag}`, { headers: { 'X-Auth-Token': newToken } });
  expect(((await projects.json()) as { projects: { id: string }[] }).projects.map((x) => x.id)).toEqual([ids.project]);
  const s = session();
  expect((await cinder.getVolume(s, ids.volume))?.status).toBe('available');
  expect(volumeBytes(ids.volume).equals(pattern)).toBe(true);
  // the image's record is restored; its bytes were in the host's file store (restored from
  // osbackup's image backups by the rebuild's next step)
  const img = await glance.getImage(s, ids.image);
  expect(img?.status).toBe('active');
  const imgData = await s.request('image', 'GET', `/v2/images/${ids.image}/file`, {
    accept: [200, 204, 404, 410, 500, 502, 503],
  });
  expect(imgData.status).not.toBe(200);

  // 11. idempotent: every phase again changes nothing (same processes, same keys)
  const pid = readFileSync(join(D, 'run/keystone.pid'), 'utf8');
  for (const p of ['bootstrap-servers', 'deploy-mariadb', 'deploy-services']) {
    const r = await timed(`${p} again`, () => phase(p, TREE));
    expect({ p, exitCode: r.exitCode }).toEqual({ p, exitCode: 0 });
  }
  expect(readFileSync(join(D, 'run/keystone.pid'), 'utf8')).toBe(pid);
  expect(tree(join(D, 'srv/keystone'))).toEqual(keysBefore);
  expect((await phase('status')).exitCode).toBe(0);
}, 600_000);
