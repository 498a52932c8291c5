// The control plane against the lab's Kolla-style host ctl3 (deploy tree at /etc/kolla, a
// keystone container), a bare Keystone host ctl2, and real RabbitMQ brokers (ctl2: the cloud's,
// ctl1: empty). Back up → restore to fresh places → byte-equal with owners and modes.
import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse, stringify } from 'yaml';
import type { ControlPlaneManifest } from '../../core/control-plane/control-plane.js';
import { diffDefinitions, parseDefinitions } from '../../core/control-plane/rabbitmq-definitions.js';
import {
  cli,
  configWithOwnRepo,
  labDir,
  onLabHost,
  openWithStockTools,
  startWorker,
  temporalClient,
  type WorkerProcess,
} from '../helpers/lab.js';

const lab = labDir();
const kollaSource = join(lab, 'ctl3/etc-kolla');
let cfg: ReturnType<typeof configWithOwnRepo>;
let worker: WorkerProcess;
const run = (...args: string[]) => cli(cfg.configFile, [...args, '--cloud', 'kolla']);
const json = async (...args: string[]) => {
  const r = await cli(cfg.configFile, ['--json', ...args, '--cloud', 'kolla']);
  if (r.exitCode !== 0) throw new Error(`osbackup ${args.join(' ')} exited ${r.exitCode}: ${r.stderr}`);
  return JSON.parse(r.stdout);
};

/** Every entry of a tree: type, mode, numeric owner, and content hash or link target. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const p = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, p));
      const meta = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
      if (st.isSymbolicLink()) out[p] = `link → ${readlinkSync(join(dir, p))} ${st.uid}:${st.gid}`;
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

/** path → "sha256 mode owner" of the keys in the keystone container on ctl3. */
async function containerKeys(): Promise<Record<string, string>> {
  const r = await onLabHost(
    'ctl3',
    `docker exec keystone sh -c 'cd /etc/keystone && for f in fernet-keys/* credential-keys/*; do echo "$f $(sha256sum < $f | cut -c1-64) $(stat -c "%a %u:%g" $f)"; done'`,
  );
  return Object.fromEntries(
    Buffer.from(r.stdout)
      .toString()
      .trim()
      .split('\n')
      .map((l) => {
        const [p, ...rest] = l.split(' ');
        return [p!, rest.join(' ')];
      }),
  );
}

function bareKeys(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of ['fernet-keys', 'credential-keys'])
    for (const f of readdirSync(join(dir, d)).sort()) {
      const st = lstatSync(join(dir, d, f));
      out[`${d}/${f}`] = `${createHash('sha256')
        .update(readFileSync(join(dir, d, f)))
        .digest('hex')} ${(st.mode & 0o777).toString(8)} ${st.uid}:${st.gid}`;
    }
  return out;
}

async function exportDefinitions(host: string): Promise<string> {
  const r = await execa('ip', [
    'netns',
    'exec',
    `osb-${host}`,
    'env',
    `HOME=${lab}/${host}/rabbitmq`,
    '/usr/lib/rabbitmq/bin/rabbitmqctl',
    '-n',
    'rabbit@localhost',
    '-q',
    'export_definitions',
    '-',
    '--format',
    'json',
  ]);
  return r.stdout;
}

let backup: {
  backupId: string;
  parts: { kind: string; host: string }[];
  keystone: ControlPlaneManifest['keystone'];
  warnings: string[];
};
let keysBefore: { ctl3: Record<string, string>; ctl2: Record<string, string> };

beforeAll(async () => {
  cfg = configWithOwnRepo('cp');
  worker = await startWorker(cfg.configFile);
  keysBefore = { ctl3: await containerKeys(), ctl2: bareKeys(join(lab, 'ctl2/keystone')) };
  backup = await json('backup', 'control-plane');
});
afterAll(async () => {
  await worker?.stop();
});

test('one backup holds the Kolla tree, the keys of both Keystone hosts and the RabbitMQ definitions; the keys agree', () => {
  expect(backup.parts.map((p) => `${p.kind}@${p.host}`).sort()).toEqual([
    'keystone-keys@ctl2',
    'keystone-keys@ctl3',
    'kolla-config@ctl3',
    'rabbitmq-definitions@ctl2',
  ]);
  expect(backup.keystone).toMatchObject({ consistent: true, epochs: { ctl2: 2, ctl3: 2 }, differences: [] });
  expect(backup.warnings).toEqual([]);
});

test("every part opens with stock gpg — by passphrase and by the operator's secret key — and zstd; the manifest lists every file with its hash, mode and owner", async () => {
  const dir = join(cfg.repo, 'clouds/kolla/control-plane', backup.backupId);
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ControlPlaneManifest;
  expect(readdirSync(dir)).toEqual(expect.arrayContaining(['RESTORE.md', 'SHA256SUMS', 'manifest.json']));
  expect((await execa('sha256sum', ['-c', 'SHA256SUMS'], { cwd: dir })).exitCode).toBe(0);
  for (const p of m.parts) {
    const bySecret = await openWithStockTools(join(dir, p.file), {
      passphraseFile: join(lab, 'secrets/backup-passphrase'),
    });
    const byKey = await openWithStockTools(join(dir, p.file), { gnupgHome: join(lab, 'operator-gnupg') });
    expect(byKey.equals(bySecret)).toBe(true);
    expect(createHash('sha256').update(bySecret).digest('hex')).toBe(p.plainSha256);
  }
  const kolla = m.parts.find((p) => p.kind === 'kolla-config')!;
  const nova = kolla.entries!.find((e) => e.path === 'config/nova/nova.conf')!;
  expect(nova).toMatchObject({
    type: 'file',
    uid: 42436,
    gid: 42436,
    mode: 0o640,
    sha256: createHash('sha256')
      .update(readFileSync(join(kollaSource, 'config/nova/nova.conf')))
      .digest('hex'),
  });
  expect(kolla.entries!.find((e) => e.path === 'passwords.yml')).toMatchObject({ mode: 0o600 });
  // secrets never appear in the manifest or the recipe
  const text = readFileSync(join(dir, 'manifest.json'), 'utf8') + readFileSync(join(dir, 'RESTORE.md'), 'utf8');
  for (const secret of secretsOfTheLab()) expect(text).not.toContain(secret);
});

test('configs restore to a fresh folder on another host byte-equal, with the same owners, modes and links', async () => {
  const target = join(lab, 'ctl1/kolla-restored');
  rmSync(target, { recursive: true, force: true });
  const r = await json('restore', 'config', '--to', 'ctl1', '--path', target);
  expect(r.safetyCopy).toBeNull(); // nothing was there to save
  const src = tree(kollaSource);
  delete src['.made-etc-kolla'];
  const restored = tree(target);
  const backedUp = Object.fromEntries(
    Object.entries(src).filter(([p]) =>
      [
        'globals.yml',
        'passwords.yml',
        'inventory',
        'admin-openrc.sh',
        'config',
        'keystone',
        'nova',
        'neutron',
        'cinder',
        'glance',
      ].some((top) => p === top || p.startsWith(`${top}/`)),
    ),
  );
  expect(restored).toEqual(backedUp);
  expect(restored['config/nova/nova.conf']).toMatch(/^file 640 42436:42436 /);
  expect(restored['nova/nova.conf']).toBe('link → ../config/nova/nova.conf 0:0');
});

test('a changed folder: --dry-run shows the diff (secrets named, never shown); without --overwrite nothing changes; with it the old content is saved first', async () => {
  const target = join(lab, 'ctl1/kolla-restored');
  writeFileSync(
    join(target, 'globals.yml'),
    readFileSync(join(target, 'globals.yml'), 'utf8').replace('enable_cinder: "yes"', 'enable_cinder: "no"'),
  );
  writeFileSync(join(target, 'passwords.yml'), 'database_password: "changed-by-hand"\n');
  writeFileSync(join(target, 'local-notes.txt'), 'only here\n');
  const dry = await json('restore', 'config', '--to', 'ctl1', '--path', target, '--dry-run');
  const byPath = Object.fromEntries(
    dry.changes.map((c: { path: string; change: string; secret: boolean }) => [c.path, c]),
  );
  expect(byPath['globals.yml']).toMatchObject({ change: 'content', secret: false });
  expect(byPath['passwords.yml']).toMatchObject({ change: 'content', secret: true });
  expect(byPath['local-notes.txt']).toMatchObject({ change: 'removed' });
  expect(dry.patches.map((p: { path: string }) => p.path)).toEqual(['globals.yml']);
  expect(dry.patches[0].patch).toContain('-enable_cinder: "no"');
  expect(dry.patches[0].patch).toContain('+enable_cinder: "yes"');
  expect(JSON.stringify(dry)).not.toContain('changed-by-hand');

  const refused = await run('restore', 'config', '--to', 'ctl1', '--path', target);
  expect(refused.exitCode).toBe(1);
  expect(refused.stderr).toMatch(
    /\[TargetNotEmpty\] .*holds 2 file\(s\) the restore would change .*Fix: .*--overwrite/,
  );
  expect(readFileSync(join(target, 'passwords.yml'), 'utf8')).toBe('database_password: "changed-by-hand"\n');

  const done = await json('restore', 'config', '--to', 'ctl1', '--path', target, '--overwrite');
  expect(done.safetyCopy).toMatch(/^cp-pre-restore-/);
  expect(readFileSync(join(target, 'passwords.yml'))).toEqual(readFileSync(join(kollaSource, 'passwords.yml')));
  expect(readFileSync(join(target, 'local-notes.txt'), 'utf8')).toBe('only here\n'); // kept, reported
  expect(done.kept).toEqual(['local-notes.txt']);
  // the safety copy holds what was there, and opens with stock tools
  const saved = join(cfg.repo, 'clouds/kolla/control-plane', done.safetyCopy);
  const file = readdirSync(saved).find((f) => f.endsWith('.tar.zst.gpg'))!;
  const tar = await openWithStockTools(join(saved, file), { passphraseFile: join(lab, 'secrets/backup-passphrase') });
  expect(tar.toString('latin1')).toContain('changed-by-hand');
});

test('Fernet and credential keys restore to every Keystone host: staged, checked, swapped; same bytes everywhere, each host its owner and 0600', async () => {
  // both hosts lose their keys (a rebuilt controller, a wiped volume)
  await onLabHost(
    'ctl3',
    'docker exec keystone sh -c "rm -f /etc/keystone/fernet-keys/* /etc/keystone/credential-keys/*"',
  );
  for (const d of ['fernet-keys', 'credential-keys'])
    for (const f of readdirSync(join(lab, 'ctl2/keystone', d))) rmSync(join(lab, 'ctl2/keystone', d, f));
  const r = await json('restore', 'keys');
  expect(r.identical).toBe(true);
  expect(r.hosts.map((h: { host: string }) => h.host).sort()).toEqual(['ctl2', 'ctl3']);
  expect(await containerKeys()).toEqual(keysBefore.ctl3);
  expect(bareKeys(join(lab, 'ctl2/keystone'))).toEqual(keysBefore.ctl2);
  const hashes = (k: Record<string, string>) =>
    Object.fromEntries(Object.entries(k).map(([p, v]) => [p, v.split(' ')[0]]));
  expect(hashes(keysBefore.ctl2)).toEqual(hashes(keysBefore.ctl3)); // same bytes on both hosts
  expect(Object.values(keysBefore.ctl3).every((v) => v.endsWith(' 600 42425:42425'))).toBe(true);
  expect(Object.values(keysBefore.ctl2).every((v) => v.endsWith(' 600 65534:65534'))).toBe(true);
});

test("RabbitMQ definitions restore into the empty broker on ctl1 and then equal the cloud's", async () => {
  const r = await json('restore', 'rabbitmq', '--to', 'ctl1');
  const source = parseDefinitions(await exportDefinitions('ctl2'));
  // the lab declares 22 queues; its two reply/fanout queues carry x-expires (30 min, as
  // OpenStack's do) and vanish from an idle broker, so the count is the cloud's, not a constant
  expect(r.summary.queues).toBe((source.queues as unknown[]).length);
  expect(r.summary.queues).toBeGreaterThanOrEqual(20);
  const diff = diffDefinitions(source, parseDefinitions(await exportDefinitions('ctl1')));
  expect(diff).toEqual([]);
});

test('diverged keys between Keystone hosts are reported loudly: in the result, the exit code, the Phase the UI lists; a key restore then asks whose keys', async () => {
  const extra = join(lab, 'ctl2/keystone/fernet-keys/3');
  writeFileSync(extra, 'rotated-on-ctl2-only-xxxxxxxxxxxxxxxxxxxxxxxx=', { mode: 0o600 });
  try {
    const r = await cli(cfg.configFile, ['--json', 'backup', 'control-plane', '--cloud', 'kolla']);
    expect(r.exitCode).toBe(1);
    const res = JSON.parse(r.stdout);
    expect(res.keystone.consistent).toBe(false);
    expect(res.keystone.differences).toContain('fernet-keys/3: only on ctl2 (missing on ctl3)');
    expect(res.warnings[0]).toMatch(/keys differ between Keystone hosts/);
    const { client, close } = await temporalClient(cfg.configFile);
    try {
      const d = await client.workflow.getHandle(res.workflowId).describe();
      expect(d.searchAttributes.Phase).toEqual(['done: KEYSTONE KEYS DIFFER BETWEEN HOSTS']);
    } finally {
      await close();
    }
    const ask = await run('restore', 'keys', '--backup', res.backupId);
    expect(ask.exitCode).toBe(1);
    expect(ask.stderr).toMatch(/recorded diverged keys .*Fix: name the source host \(--from <host>/);
  } finally {
    rmSync(extra, { force: true });
  }
});

test('a worker without the right key or passphrase fails at once, naming the key the artifact needs', async () => {
  const wrong = mkdtempSync(join(tmpdir(), 'osb-wrongpass-'));
  writeFileSync(join(wrong, 'pass'), 'not-the-passphrase\n', { mode: 0o600 });
  const raw = parse(readFileSync(cfg.configFile, 'utf8'));
  raw.temporal.taskQueue += '-wrongkey';
  raw.encryption.passphrase = { file: join(wrong, 'pass') };
  raw.stateDir = join(wrong, 'state');
  const file = join(wrong, 'osbackup.yml');
  writeFileSync(file, stringify(raw));
  const w = await startWorker(file);
  try {
    const r = await cli(file, [
      'restore',
      'config',
      '--to',
      'ctl1',
      '--path',
      join(wrong, 'target'),
      '--dry-run',
      '--cloud',
      'kolla',
    ]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(
      /\[DecryptionFailed\] cannot decrypt kolla config .* encrypted to the key [0-9A-F]{40} and\/or a passphrase/,
    );
    expect(r.stderr).toMatch(/Fix: import the escrowed secret key for [0-9A-F]{40}/);
    expect(r.stderr).not.toContain('not-the-passphrase');
  } finally {
    await w.stop();
  }
});

/** Every secret the lab made: database and admin passwords, the passphrase, the payload key, every key file. */
export function secretsOfTheLab(): string[] {
  const s = ['secrets/db-password', 'secrets/backup-passphrase', 'secrets/payload.key'].map((f) =>
    readFileSync(join(lab, f), 'utf8').trim(),
  );
  const pw = readFileSync(join(kollaSource, 'passwords.yml'), 'utf8').matchAll(/: "([^"]+)"/g);
  for (const m of pw) s.push(m[1]!);
  for (const d of ['fernet-keys', 'credential-keys'])
    for (const f of readdirSync(join(kollaSource, 'keystone', d)))
      s.push(readFileSync(join(kollaSource, 'keystone', d, f), 'utf8').trim());
  return s.filter((x) => x.length >= 8);
}

test('after database and control-plane backups and restores, no secret of the lab is in Temporal history (raw or decoded) or in the worker log', async () => {
  const db = await cli(cfg.configFile, ['backup', 'db', '--full', '--wait', '--cloud', 'lab']);
  expect(db.exitCode).toBe(0);
  const rs = await cli(cfg.configFile, ['restore', 'db', '--to', 'ctl2', '--cloud', 'lab']);
  expect(rs.exitCode).toBe(0);
  const { client, close } = await temporalClient(cfg.configFile);
  const { payloadCodecs } = await import('../../config/temporal.js');
  const { loadConfig } = await import('../../config/load.js');
  const proto = (await import('@temporalio/proto')).default;
  const codec = payloadCodecs(loadConfig(cfg.configFile))[0]!;
  const taskQueue = parse(readFileSync(cfg.configFile, 'utf8')).temporal.taskQueue as string;
  const seen: string[] = [];
  const blobs: Buffer[] = [];
  try {
    for await (const wf of client.workflow.list({ query: `TaskQueue = '${taskQueue}'` })) {
      seen.push(wf.type);
      const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      blobs.push(Buffer.from(proto.temporal.api.history.v1.History.encode(history).finish()));
      // every payload, decoded with the key: what someone holding the codec key would see
      const walk = async (v: unknown): Promise<void> => {
        if (!v || typeof v !== 'object') return;
        const o = v as Record<string, unknown>;
        if (o.data instanceof Uint8Array && o.metadata && typeof o.metadata === 'object') {
          const [p] = await codec.decode([o as never]);
          blobs.push(Buffer.from((p as { data?: Uint8Array }).data ?? []));
        }
        for (const x of Object.values(o)) await walk(x);
      };
      await walk(history);
    }
  } finally {
    await close();
  }
  expect(seen).toEqual(
    expect.arrayContaining([
      'backupControlPlaneWorkflow',
      'restoreKollaConfigWorkflow',
      'restoreKeystoneKeysWorkflow',
      'restoreRabbitmqWorkflow',
      'backupDatabaseWorkflow',
      'restoreDatabaseWorkflow',
    ]),
  );
  const all = Buffer.concat([...blobs, Buffer.from(worker.output())]);
  expect(all.length).toBeGreaterThan(10_000);
  const secrets = secretsOfTheLab();
  expect(secrets.length).toBeGreaterThan(8);
  for (const secret of secrets) expect(all.includes(Buffer.from(secret))).toBe(false);
  expect(all.includes(Buffer.from('PRIVATE KEY'))).toBe(false);
});

test('keys check: the escrowed operator key and passphrase open recent artifacts; a recipient added without escrow fails it, by fingerprint', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'osb-escrow-'));
  const secretKey = join(dir, 'operator-secret.asc');
  await execa('bash', [
    '-c',
    `gpg --homedir ${join(lab, 'operator-gnupg')} --batch --armor --export-secret-keys > ${secretKey}`,
  ]);
  const raw = parse(readFileSync(cfg.configFile, 'utf8'));
  raw.encryption.escrow = [
    { name: 'operator', secretKeyFile: secretKey },
    { name: 'passphrase-copy', passphrase: { file: join(lab, 'secrets/backup-passphrase') } },
  ];
  const good = join(dir, 'good.yml');
  writeFileSync(good, stringify(raw));
  const ok = await cli(good, ['--json', 'keys', 'check', '--sample', '1']);
  expect(ok.exitCode).toBe(0);
  const report = JSON.parse(ok.stdout);
  expect(report.samples.filter((s: { result: string }) => s.result === 'decrypted').length).toBeGreaterThanOrEqual(4);

  // a new recipient key (a new operator), added to the config but never escrowed
  const home = join(dir, 'newkey');
  await execa('bash', [
    '-c',
    `mkdir -m 700 ${home} && gpg --homedir ${home} --batch --passphrase '' --quick-gen-key 'new operator <new@lab.invalid>' ed25519 cert never 2>/dev/null && fpr=$(gpg --homedir ${home} --with-colons --list-keys | awk -F: '/^fpr/ {print $10; exit}') && gpg --homedir ${home} --batch --passphrase '' --quick-add-key $fpr cv25519 encr never 2>/dev/null && gpg --homedir ${home} --armor --export > ${dir}/new.asc`,
  ]);
  const fpr = (
    await execa('bash', ['-c', `gpg --homedir ${home} --with-colons --list-keys | awk -F: '/^fpr/ {print $10; exit}'`])
  ).stdout.trim();
  raw.encryption.recipientKeyFiles.push(join(dir, 'new.asc'));
  const bad = join(dir, 'bad.yml');
  writeFileSync(bad, stringify(raw));
  const r = await cli(bad, ['keys', 'check', '--sample', '1']);
  expect(r.exitCode).toBe(1);
  expect(r.stdout + r.stderr).toContain(`recipient key ${fpr}`);
  expect(r.stdout + r.stderr).toMatch(/has no escrowed secret key/);
  await execa('gpgconf', ['--homedir', home, '--kill', 'all'], { reject: false });
});
