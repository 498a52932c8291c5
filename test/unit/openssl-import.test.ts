// Importing seed-era `openssl enc -aes-256-cbc -pbkdf2` files with the real openssl, zstd and
// gpg; the result must open with the stock hand-restore recipe (gpg -d | zstd -d).
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { execa } from 'execa';
import { importOpensslFile, OPENSSL_IMPORT_FROM } from '../../activities/crypto/openssl-import.js';

const T = mkdtempSync(join(tmpdir(), 'osbackup-openssl-test-'));
const gpgHome = join(T, 'gnupg');
const SEED_PASS = 'seed-passphrase-0f3a';
const REPO_PASS = 'repo-' + randomBytes(6).toString('hex');
// compressible but not trivial: what a database dump looks like to zstd
const plain = Buffer.concat(
  Array.from({ length: 2000 }, (_, i) =>
    Buffer.from(
      `INSERT INTO t VALUES (${i}, '${createHash('sha256').update(String(i)).digest('hex').slice(0, 16)}');\n`,
    ),
  ),
);
const seedFile = join(T, 'backup-2025-01-01.sql.enc');
const seedPassFile = join(T, 'seed.pass');
const wrongPassFile = join(T, 'wrong.pass');

beforeAll(async () => {
  mkdirSync(gpgHome, { mode: 0o700 });
  writeFileSync(join(T, 'plain.sql'), plain);
  writeFileSync(seedPassFile, SEED_PASS + '\n', { mode: 0o600 });
  writeFileSync(wrongPassFile, 'not-the-seed-passphrase\n', { mode: 0o600 });
  // exactly the seed's command line. CBC has no integrity check: a wrong key passes the
  // padding check for ~1 salt in 256, so draw salts until openssl itself says "bad decrypt".
  for (let i = 0; i < 10; i++) {
    await execa('openssl', [
      'enc',
      '-aes-256-cbc',
      '-pbkdf2',
      '-salt',
      '-pass',
      `file:${seedPassFile}`,
      '-in',
      join(T, 'plain.sql'),
      '-out',
      seedFile,
    ]);
    const probe = await execa(
      'openssl',
      ['enc', '-d', '-aes-256-cbc', '-pbkdf2', '-pass', `file:${wrongPassFile}`, '-in', seedFile, '-out', '/dev/null'],
      { reject: false },
    );
    if (/bad decrypt/.test(probe.stderr)) break;
  }
  await rm(join(T, 'plain.sql'));
});

afterAll(async () => {
  await execa('gpgconf', ['--homedir', gpgHome, '--kill', 'all'], { reject: false });
  await rm(T, { recursive: true, force: true });
});

test('a seed file is re-protected (zstd + OpenPGP) and opens with stock gpg -d | zstd -d', async () => {
  const out = join(T, 'imported.zst.gpg');
  const r = await importOpensslFile({
    file: seedFile,
    passphraseRef: { file: seedPassFile },
    out,
    keys: { homedir: gpgHome, passphrase: REPO_PASS, recipientKeyFiles: [] },
  });
  const stored = readFileSync(out);
  expect(r.bytes).toBe(stored.length);
  expect(r.sha256).toBe(createHash('sha256').update(stored).digest('hex'));
  expect(r.streamBytes).toBe(plain.length);
  expect(r.plaintextSha256).toBe(createHash('sha256').update(plain).digest('hex'));
  expect(r.imported).toMatchObject({
    from: OPENSSL_IMPORT_FROM,
    originalFile: seedFile,
    originalSha256: createHash('sha256').update(readFileSync(seedFile)).digest('hex'),
    iterations: 10000,
    digest: 'sha256',
  });
  expect(r.encryption).toEqual({ format: 'openpgp', cipher: 'AES256', passphrase: true, recipientFingerprints: [] });
  expect(stored.length).toBeLessThan(plain.length); // compressed before encryption
  const passFile = join(T, 'repo.pass');
  writeFileSync(passFile, REPO_PASS + '\n', { mode: 0o600 });
  const back = await execa({
    encoding: 'buffer',
    stripFinalNewline: false,
  })`sh -c ${`gpg --homedir ${gpgHome} --batch --quiet --pinentry-mode loopback --passphrase-file ${passFile} -d ${out} | zstd -d -q`}`;
  expect(Buffer.compare(Buffer.from(back.stdout), plain)).toBe(0);
});

test('a wrong passphrase is a non-retryable DecryptionFailed, and no output file is left', async () => {
  const out = join(T, 'wrong.zst.gpg');
  const before = readdirSync(T).sort();
  const e = await importOpensslFile({
    file: seedFile,
    passphraseRef: { file: wrongPassFile },
    out,
    keys: { homedir: gpgHome, passphrase: REPO_PASS, recipientKeyFiles: [] },
  }).then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(ApplicationFailure);
  const f = e as ApplicationFailure;
  expect(f.type).toBe('DecryptionFailed');
  expect(f.nonRetryable).toBe(true);
  expect(f.message).toContain(`cannot decrypt ${seedFile}: wrong passphrase`);
  expect(f.message).toContain('bad decrypt');
  expect(f.message).not.toContain('not-the-seed-passphrase');
  expect(existsSync(out)).toBe(false);
  expect(readdirSync(T).sort()).toEqual(before); // no .partial left behind
});

test('an existing output is never overwritten', async () => {
  const out = join(T, 'exists.gpg');
  writeFileSync(out, 'keep me');
  await expect(
    importOpensslFile({
      file: seedFile,
      passphrase: SEED_PASS,
      out,
      keys: { homedir: gpgHome, passphrase: REPO_PASS, recipientKeyFiles: [] },
    }),
  ).rejects.toThrow(/already exists/);
  expect(readFileSync(out, 'utf8')).toBe('keep me');
});
