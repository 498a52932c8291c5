// Key escrow against real gpg: a small repository of artifacts made by the production
// gpgEncrypt, checked with escrowed keys alone (ed25519/cv25519 keys: generated in ms).
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { execa } from 'execa';
import { gpgDecrypt, gpgEncrypt } from '../../activities/crypto/gpg.js';
import {
  checkEscrow,
  classifyDecryptError,
  recipientFingerprints,
  secretKeyFingerprints,
  type ResolvedEscrow,
} from '../../activities/crypto/escrow.js';
import { LocalRepository } from '../../activities/storage/local-repository.js';
import { artifactDir, type ArtifactManifest, type EncryptionInfo } from '../../core/manifest/manifest.js';
import { loadConfigWithEscrow } from '../../client/keys.js';

const T = mkdtempSync(join(tmpdir(), 'osbackup-escrow-test-'));
const homes: string[] = [];
const REPO_PASS = 'repo-passphrase-' + randomBytes(6).toString('hex');
const KEY_PASS = 'key-passphrase-' + randomBytes(6).toString('hex');

interface TestKey {
  fpr: string;
  pub: string;
  sec: string;
}

async function genKey(name: string, pass = ''): Promise<TestKey> {
  const home = join(T, `home-${name}`);
  mkdirSync(home, { mode: 0o700 });
  homes.push(home);
  const g = ['--homedir', home, '--batch', '--quiet', '--pinentry-mode', 'loopback', '--passphrase', pass];
  await execa('gpg', [...g, '--quick-gen-key', `${name} <${name}@test.invalid>`, 'ed25519', 'cert', 'never']);
  const fpr = (await execa('gpg', ['--homedir', home, '--batch', '--with-colons', '--list-keys'])).stdout
    .split('\n')
    .find((l) => l.startsWith('fpr:'))!
    .split(':')[9]!;
  await execa('gpg', [...g, '--quick-add-key', fpr, 'cv25519', 'encr', 'never']);
  const pub = join(T, `${name}.pub.asc`);
  const sec = join(T, `${name}.sec.asc`);
  writeFileSync(pub, (await execa('gpg', ['--homedir', home, '--batch', '--armor', '--export', fpr])).stdout + '\n');
  writeFileSync(sec, (await execa('gpg', [...g, '--armor', '--export-secret-keys', fpr])).stdout + '\n');
  return { fpr, pub, sec };
}

const repo = new LocalRepository(join(T, 'repo'));
const plaintexts = new Map<string, Buffer>();

async function makeArtifact(
  cloud: string,
  id: string,
  startedAt: string,
  passphrase: string | undefined,
  keys: TestKey[],
): Promise<string> {
  const rel = artifactDir(cloud, 'database', id);
  mkdirSync(repo.path(rel), { recursive: true, mode: 0o700 });
  const plain = randomBytes(48 * 1024);
  const file = repo.path(`${rel}/data.xb.zst.gpg`);
  const workerHome = join(T, 'worker-gnupg');
  mkdirSync(workerHome, { recursive: true, mode: 0o700 });
  const gpg = gpgEncrypt({ homedir: workerHome, passphrase, recipientKeyFiles: keys.map((k) => k.pub) });
  const chunks: Buffer[] = [];
  await Promise.all([
    pipeline(Readable.from([plain]), gpg.stdin),
    pipeline(
      gpg.stdout,
      new Writable({
        write: (c: Buffer, _e, cb) => {
          chunks.push(c);
          cb();
        },
      }),
    ),
  ]);
  expect((await gpg.exit).code).toBe(0);
  const stored = Buffer.concat(chunks);
  writeFileSync(file, stored, { mode: 0o600 });
  plaintexts.set(id, plain);
  const encryption: EncryptionInfo = {
    format: 'openpgp',
    cipher: 'AES256',
    passphrase: passphrase !== undefined,
    recipientFingerprints: keys.map((k) => k.fpr),
  };
  const m = {
    formatVersion: 1,
    id,
    cloud,
    component: 'database',
    kind: 'full',
    startedAt,
    artifact: {
      file: 'data.xb.zst.gpg',
      bytes: stored.length,
      sha256: createHash('sha256').update(stored).digest('hex'),
      encryption,
    },
  } as unknown as ArtifactManifest;
  writeFileSync(repo.path(`${rel}/manifest.json`), JSON.stringify(m));
  return `${rel}/data.xb.zst.gpg`;
}

let A: TestKey; // the operator key: passphrase-protected secret
let B: TestKey; // a second recipient nobody escrowed
let C: TestKey; // an unrelated key (the wrong file in escrow)
let R: TestKey; // a rotated-out key that still protects a recent backup
let newest = '';
const keyA = (): ResolvedEscrow => ({
  name: 'operator',
  kind: 'key',
  secretKeyFile: A.sec,
  secretKeyPassphrase: KEY_PASS,
});
const passEntry = (value = REPO_PASS): ResolvedEscrow => ({
  name: 'passphrase-copy',
  kind: 'passphrase',
  passphrase: value,
});

beforeAll(async () => {
  [A, B, C, R] = await Promise.all([
    genKey('operator', KEY_PASS),
    genKey('second'),
    genKey('unrelated'),
    genKey('rotated'),
  ]);
  await makeArtifact('c1', 'db-full-1', '2026-11-01T00:00:00Z', REPO_PASS, [A]);
  await makeArtifact('c1', 'db-full-2', '2026-11-02T00:00:00Z', REPO_PASS, [A]);
  newest = await makeArtifact('c1', 'db-full-3', '2026-11-03T00:00:00Z', REPO_PASS, [A]);
  await makeArtifact('c2', 'db-full-r', '2026-11-03T00:00:00Z', undefined, [R]);
}, 60_000);

afterAll(async () => {
  for (const h of [...homes, join(T, 'worker-gnupg')])
    await execa('gpgconf', ['--homedir', h, '--kill', 'all'], { reject: false });
  await rm(T, { recursive: true, force: true });
});

describe('escrow check', () => {
  test('passes with the escrowed secret key and passphrase, decrypting the newest artifacts with each alone', async () => {
    const r = await checkEscrow({
      repo,
      cloud: 'c1',
      recipientKeyFiles: [A.pub],
      passphrase: REPO_PASS,
      escrow: [keyA(), passEntry()],
      sample: 2,
    });
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.recipients).toEqual([expect.objectContaining({ fingerprint: A.fpr, escrowedBy: 'operator' })]);
    expect(r.passphrase).toEqual({ configured: true, escrowedBy: 'passphrase-copy' });
    expect(r.samples.map((s) => `${s.artifact.split('/')[3]} ${s.key} ${s.result}`).sort()).toEqual([
      'db-full-2 operator decrypted',
      'db-full-2 passphrase-copy decrypted',
      'db-full-3 operator decrypted',
      'db-full-3 passphrase-copy decrypted',
    ]);
    expect(r.samples.every((s) => s.bytes === 48 * 1024)).toBe(true);
    expect(JSON.stringify(r)).not.toContain(REPO_PASS);
    expect(JSON.stringify(r)).not.toContain(KEY_PASS);
  });

  test('a second recipient in the config that nobody escrowed fails, naming its fingerprint', async () => {
    const r = await checkEscrow({
      repo,
      cloud: 'c1',
      recipientKeyFiles: [A.pub, B.pub],
      passphrase: REPO_PASS,
      escrow: [keyA(), passEntry()],
      sample: 0,
    });
    expect(r.ok).toBe(false);
    expect(r.recipients.find((x) => x.fingerprint === B.fpr)?.escrowedBy).toBeNull();
    expect(r.problems).toEqual([expect.stringContaining(B.fpr)]);
    expect(r.problems[0]).toContain(`gpg --armor --export-secret-keys ${B.fpr}`);
    expect(r.problems[0]).toContain('encryption.escrow');
  });

  test('the wrong key in escrow fails: the recipient and the artifacts encrypted to it are not covered', async () => {
    const r = await checkEscrow({
      repo,
      cloud: 'c1',
      recipientKeyFiles: [A.pub],
      passphrase: REPO_PASS,
      escrow: [{ name: 'wrong', kind: 'key', secretKeyFile: C.sec }, passEntry()],
      sample: 1,
    });
    expect(r.ok).toBe(false);
    expect(r.recipients[0]?.escrowedBy).toBeNull();
    expect(r.problems.some((p) => p.startsWith(`recipient key ${A.fpr}`))).toBe(true);
    expect(
      r.problems.some(
        (p) =>
          p.includes(newest) &&
          p.includes(A.fpr) &&
          p.includes('is a configured recipient but has no escrowed secret key'),
      ),
    ).toBe(true);
    expect(r.samples.find((s) => s.key === 'wrong')?.result).toBe('not-applicable');
    expect(r.notes.join('\n')).toContain('escrow "wrong" matches no configured recipient');
  });

  test('a rotated key still protecting a recent artifact must stay escrowed', async () => {
    const r = await checkEscrow({
      repo,
      cloud: 'c2',
      recipientKeyFiles: [A.pub],
      passphrase: REPO_PASS,
      escrow: [keyA(), passEntry()],
      sample: 2,
    });
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([
      expect.stringContaining(
        `encrypted to ${R.fpr}, which is no longer a configured recipient (a rotated key) and has no escrowed secret key`,
      ),
    ]);
    const fixed = await checkEscrow({
      repo,
      cloud: 'c2',
      recipientKeyFiles: [A.pub],
      passphrase: REPO_PASS,
      escrow: [keyA(), passEntry(), { name: 'rotated-2025', kind: 'key', secretKeyFile: R.sec }],
      sample: 2,
    });
    expect(fixed.problems).toEqual([]);
    expect(fixed.samples.filter((s) => s.result === 'decrypted').map((s) => s.key)).toEqual(['rotated-2025']);
  });

  test('an escrowed passphrase that is not the configured one fails without printing either', async () => {
    const wrong = 'not-the-passphrase-' + randomBytes(4).toString('hex');
    const r = await checkEscrow({
      repo,
      cloud: 'c1',
      recipientKeyFiles: [A.pub],
      passphrase: REPO_PASS,
      escrow: [keyA(), passEntry(wrong)],
      sample: 1,
    });
    expect(r.ok).toBe(false);
    expect(
      r.problems.some((p) =>
        p.includes('encryption.passphrase differs from every escrowed passphrase ("passphrase-copy"'),
      ),
    ).toBe(true);
    expect(
      r.problems.some((p) =>
        p.includes(`${newest} is protected by a passphrase that no escrowed passphrase ("passphrase-copy") opens`),
      ),
    ).toBe(true);
    expect(r.samples.find((s) => s.key === 'passphrase-copy')).toMatchObject({
      result: 'failed',
      detail: expect.stringContaining('wrong passphrase'),
    });
    expect(JSON.stringify(r)).not.toContain(wrong);
    expect(JSON.stringify(r)).not.toContain(REPO_PASS);
  });

  test('a protected escrow key without its passphrase fails with the fix', async () => {
    const r = await checkEscrow({
      repo,
      cloud: 'c1',
      recipientKeyFiles: [A.pub],
      passphrase: REPO_PASS,
      escrow: [{ name: 'operator', kind: 'key', secretKeyFile: A.sec }, passEntry()],
      sample: 1,
    });
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([expect.stringContaining('set (or correct) secretKeyPassphrase for escrow "operator"')]);
  });

  test('fingerprints: recipients (primary) and escrowed secrets (primary and subkeys)', async () => {
    expect(await recipientFingerprints([A.pub, B.pub])).toEqual([A.fpr, B.fpr]);
    const s = await secretKeyFingerprints(B.sec);
    expect(s).toHaveLength(2);
    expect(s[0]).toBe(B.fpr);
  });

  test('stock gpg --decrypt with the escrowed key opens the artifacts (interop)', async () => {
    const home = join(T, 'interop');
    mkdirSync(home, { mode: 0o700 });
    homes.push(home);
    await execa('gpg', ['--homedir', home, '--batch', '--import', A.sec]);
    const out = await execa(
      'gpg',
      [
        '--homedir',
        home,
        '--batch',
        '--pinentry-mode',
        'loopback',
        '--passphrase-fd',
        '0',
        '--decrypt',
        repo.path(newest),
      ],
      { input: KEY_PASS + '\n', encoding: 'buffer', stripFinalNewline: false },
    );
    expect(Buffer.compare(Buffer.from(out.stdout), plaintexts.get('db-full-3')!)).toBe(0);
  });
});

describe('decryption errors at restore', () => {
  const encryption: EncryptionInfo = {
    format: 'openpgp',
    cipher: 'AES256',
    passphrase: true,
    recipientFingerprints: [],
  };

  test('a wrong passphrase and no secret key: names the key and the passphrase needed, non-retryable, no secret', async () => {
    const home = join(T, 'restore-worker');
    mkdirSync(home, { mode: 0o700 });
    homes.push(home);
    const wrong = 'wrong-' + randomBytes(4).toString('hex');
    const gpg = gpgDecrypt({ homedir: home, passphrase: wrong });
    gpg.stdout.resume();
    await pipeline(Readable.from([readFileSync(repo.path(newest))]), gpg.stdin).catch(() => undefined);
    const exit = await gpg.exit;
    expect(exit.code).not.toBe(0);
    const f = classifyDecryptError(
      exit.stderr,
      { ...encryption, recipientFingerprints: [A.fpr] },
      { artifact: newest, gpgHome: home },
    );
    expect(f).toBeInstanceOf(ApplicationFailure);
    expect(f.type).toBe('DecryptionFailed');
    expect(f.nonRetryable).toBe(true);
    expect(f.message).toContain(
      `cannot decrypt ${newest}: it is encrypted to the key ${A.fpr} and/or a passphrase; this worker has neither the secret key for ${A.fpr} nor the right passphrase`,
    );
    expect(f.message).toContain('Fix: import the escrowed secret key');
    expect(f.message).not.toContain(wrong);
  });

  test('damaged data is an integrity failure, not a key problem', () => {
    const f = classifyDecryptError(
      'gpg: WARNING: encrypted message has been manipulated!\n[GNUPG:] BADMDC',
      encryption,
      { artifact: 'x' },
    );
    expect(f.type).toBe('ChecksumMismatch');
    const g = classifyDecryptError(
      'gpg: decryption failed: No secret key',
      { ...encryption, passphrase: false, recipientFingerprints: ['F1', 'F2'] },
      { artifact: 'y' },
    );
    expect(g.message).toContain('encrypted to the keys F1, F2; this worker has the secret key for F1 or F2');
  });
});

describe('escrow config', () => {
  test('encryption.escrow is validated beside the rest of the config', () => {
    const file = join(T, 'osbackup.yml');
    const base = `repository: { path: ${T}/repo }\nclouds: { c1: { hosts: { db: { address: 10.0.0.1, keyFile: /k, hostKeyFingerprint: "SHA256:${'a'.repeat(43)}", mariadb: { datadir: /d, stopCommand: [x], startCommand: [y] } } }, database: { host: db, user: u, password: { env: P } } } }\n`;
    writeFileSync(
      file,
      base +
        `encryption:\n  passphrase: { env: X }\n  escrow:\n    - { name: op, secretKeyFile: /mnt/op.sec.asc, secretKeyPassphrase: { env: K } }\n    - { name: pp, passphrase: { file: /mnt/pp } }\n`,
    );
    const { config, escrow } = loadConfigWithEscrow(file);
    expect(config.encryption.passphrase).toEqual({ env: 'X' });
    expect(escrow.map((e) => e.name)).toEqual(['op', 'pp']);
    writeFileSync(
      file,
      base +
        `encryption:\n  passphrase: { env: X }\n  escrow:\n    - { name: op, secretKeyFile: relative.asc }\n    - { name: op, passphrase: { env: A, file: /b } }\n`,
    );
    expect(() => loadConfigWithEscrow(file)).toThrow(/encryption\.escrow/);
  });
});
