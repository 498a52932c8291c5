// OpenPGP through the stock gpg binary (the measured choice is in docs/decisions/earlier.md):
// every artifact is then readable by `gpg --decrypt` by construction. The
// passphrase goes to gpg on file descriptor 3, never on its command line.
import { mkdir } from 'node:fs/promises';
import { execa } from 'execa';
import { spawnStage, type ProcessStage } from './stage.js';

export interface GpgKeys {
  /** gpg home for the worker (0700); holds no secret key. */
  homedir: string;
  passphrase?: string;
  recipientKeyFiles: string[];
}

const BASE = ['--batch', '--quiet', '--no-tty', '--no-greeting', '--no-symkey-cache', '--pinentry-mode', 'loopback'];

export async function ensureGpgHome(homedir: string): Promise<void> {
  await mkdir(homedir, { recursive: true, mode: 0o700 });
}

/** stdin: plaintext → stdout: OpenPGP message (AES-256, no compression: zstd already did it). */
export function gpgEncrypt(keys: GpgKeys, signal?: AbortSignal): ProcessStage {
  const args = [
    '--homedir',
    keys.homedir,
    ...BASE,
    '--trust-model',
    'always',
    '--cipher-algo',
    'AES256',
    '--compress-algo',
    'none',
    '--s2k-digest-algo',
    'SHA512',
    '--s2k-count',
    '65011712',
  ];
  if (keys.passphrase !== undefined) args.push('--passphrase-fd', '3', '--symmetric');
  if (keys.recipientKeyFiles.length > 0) {
    args.push('--encrypt');
    for (const f of keys.recipientKeyFiles) args.push('--recipient-file', f);
  }
  args.push('--output', '-');
  return spawnStage('gpg --encrypt', 'gpg', args, {
    signal,
    fd3: keys.passphrase !== undefined ? keys.passphrase + '\n' : undefined,
  });
}

/** stdin: OpenPGP message → stdout: plaintext. Integrity (MDC) failures make gpg exit non-zero. */
export function gpgDecrypt(keys: Pick<GpgKeys, 'homedir' | 'passphrase'>, signal?: AbortSignal): ProcessStage {
  const args = ['--homedir', keys.homedir, ...BASE];
  if (keys.passphrase !== undefined) args.push('--passphrase-fd', '3');
  args.push('--decrypt', '--output', '-');
  return spawnStage('gpg --decrypt', 'gpg', args, {
    signal,
    fd3: keys.passphrase !== undefined ? keys.passphrase + '\n' : undefined,
  });
}

/** Fingerprints of the encryption keys in public key files, for the manifest. */
export async function keyFingerprints(files: string[], homedir: string): Promise<string[]> {
  const out: string[] = [];
  for (const f of files) {
    const r = await execa('gpg', ['--homedir', homedir, '--batch', '--with-colons', '--show-keys', f]);
    const fpr = r.stdout.split('\n').find((l) => l.startsWith('fpr:'));
    if (fpr) out.push(fpr.split(':')[9] ?? '');
  }
  return out.filter(Boolean);
}

export async function gpgVersion(): Promise<string> {
  const r = await execa('gpg', ['--version']);
  return r.stdout.split('\n')[0]?.replace(/^gpg \(GnuPG\) /, '') ?? 'unknown';
}
