// Key escrow: proof that the keys kept OUTSIDE the cloud open the artifacts inside it.
//
// A backup host holds only public keys (and perhaps the passphrase); losing the cloud must
// not lose the means to decrypt. `checkEscrow` therefore
//   (a) matches every configured recipient key to an escrowed secret key (by the secret
//       material of its encryption subkeys, not by name) and the configured passphrase to an
//       escrowed copy (by SHA-256, never printing either);
//   (b) decrypts the newest artifacts of each cloud/component fully with EACH escrow entry
//       ALONE — a fresh GNUPGHOME holding only that secret key, or nothing but the passphrase
//       on a pipe — into a discard sink, trusting only gpg's exit status and its status lines
//       (DECRYPTION_OKAY + GOODMDC, no DECRYPTION_FAILED/BADMDC);
//   (c) demands that every recipient fingerprint recorded in those manifests is escrowed too,
//       so a rotated key that still protects live backups cannot be forgotten.
// Every gpg here runs in a throwaway home (mkdtemp, agent killed and folder removed after).
// Secrets reach gpg on file descriptor 3, never argv, and never appear in the report: it is
// built from names, paths, fingerprints and gpg's reasons (those pass through redact()).
import { createHash, timingSafeEqual } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { createReadStream } from 'node:fs';
import { execa } from 'execa';
import type { ApplicationFailure } from '@temporalio/common';
import type { EncryptionInfo } from '../../core/manifest/manifest.js';
import { sealedFiles, type AnyManifest } from '../../core/manifest/any-manifest.js';
import type { LocalRepository } from '../storage/local-repository.js';
import { fatal, FailureType } from '../errors.js';
import { redact } from '../redact.js';
import { spawnStage } from './stage.js';

const BASE = ['--batch', '--no-tty', '--no-greeting', '--no-symkey-cache', '--pinentry-mode', 'loopback'];

export const ESCROW_FIX = (fpr: string) =>
  `export the secret key with \`gpg --armor --export-secret-keys ${fpr} > <escrow location>/<name>.sec.asc\` on the machine that holds it, store it outside the cloud and add it under encryption.escrow as { name, secretKeyFile }`;

// ---------------------------------------------------------------- throwaway gpg homes

/** A private, empty gpg home for one job; the agent it may start is killed and the folder removed after. */
export async function withTempGpgHome<T>(fn: (home: string) => Promise<T>): Promise<T> {
  const home = await mkdtemp(join(tmpdir(), 'osbackup-gpg-'));
  try {
    return await fn(home);
  } finally {
    await disposeGpgHome(home);
  }
}

async function disposeGpgHome(home: string): Promise<void> {
  await execa('gpgconf', ['--homedir', home, '--kill', 'all'], { reject: false, timeout: 10_000 });
  await rm(home, { recursive: true, force: true });
}

// ---------------------------------------------------------------- key listings

export interface KeyPart {
  fingerprint: string;
  keyId: string;
  canEncrypt: boolean;
  /** The secret material is present (not a stub, not on a card). Always false for public listings. */
  hasSecret: boolean;
}

export interface KeyListing {
  /** Primary key fingerprint: what manifests record (keyFingerprints in gpg.ts). */
  fingerprint: string;
  uid: string;
  parts: KeyPart[];
}

/** Parses `gpg --with-colons` key listings (pub/sec, sub/ssb, fpr, uid records). */
export function parseColonKeys(text: string): KeyListing[] {
  const keys: KeyListing[] = [];
  let part: KeyPart | undefined;
  for (const line of text.split('\n')) {
    const f = line.split(':');
    const type = f[0];
    if (type === 'pub' || type === 'sec' || type === 'sub' || type === 'ssb') {
      part = {
        fingerprint: '',
        keyId: f[4] ?? '',
        canEncrypt: /e/.test(f[11] ?? ''),
        hasSecret: (type === 'sec' || type === 'ssb') && f[14] === '+',
      };
      if (type === 'pub' || type === 'sec') keys.push({ fingerprint: '', uid: '', parts: [part] });
      else keys.at(-1)?.parts.push(part);
    } else if (type === 'fpr' && part && !part.fingerprint) {
      part.fingerprint = f[9] ?? '';
      const k = keys.at(-1);
      if (k && !k.fingerprint) k.fingerprint = part.fingerprint;
    } else if (type === 'uid') {
      const k = keys.at(-1);
      if (k && !k.uid) k.uid = f[9] ?? '';
    }
  }
  return keys;
}

/** The encryption (sub)keys gpg would use: encryption-capable parts, else the primary. */
export function encryptionParts(k: KeyListing): KeyPart[] {
  const enc = k.parts.filter((p) => p.canEncrypt);
  return enc.length > 0 ? enc : k.parts.slice(0, 1);
}

export interface RecipientKey extends KeyListing {
  file: string;
}

/** The public keys in recipient key files (primary and subkeys), read in a throwaway home. */
export async function recipientKeys(files: string[]): Promise<RecipientKey[]> {
  if (files.length === 0) return [];
  return withTempGpgHome(async (home) => {
    const out: RecipientKey[] = [];
    for (const file of files) {
      const r = await execa('gpg', ['--homedir', home, ...BASE, '--with-colons', '--show-keys', file], {
        reject: false,
      });
      const keys = parseColonKeys(r.stdout);
      if (r.exitCode !== 0 || keys.length === 0) {
        throw fatal(
          FailureType.ConfigInvalid,
          `encryption.recipientKeyFiles: ${file} holds no OpenPGP public key (gpg: ${gpgReason(r.stderr)})`,
          'point it at an armored `gpg --export <fingerprint>` file',
        );
      }
      for (const k of keys) out.push({ ...k, file });
    }
    return out;
  });
}

/** Primary fingerprints of the keys in recipient key files (what manifests record). */
export async function recipientFingerprints(files: string[]): Promise<string[]> {
  return (await recipientKeys(files)).map((k) => k.fingerprint);
}

/** Imports a secret key export into `home` (protected keys import without their passphrase) and lists what is secret there. */
export async function importSecretKey(home: string, file: string): Promise<KeyListing[]> {
  const imp = await execa('gpg', ['--homedir', home, ...BASE, '--import', file], { reject: false });
  const list = await execa(
    'gpg',
    ['--homedir', home, ...BASE, '--with-colons', '--with-fingerprint', '--with-fingerprint', '--list-secret-keys'],
    { reject: false },
  );
  const keys = parseColonKeys(list.stdout);
  if (keys.length === 0) throw new Error(`no secret key could be imported from it (gpg: ${gpgReason(imp.stderr)})`);
  return keys;
}

/** Fingerprints (primary and subkeys) of the secret keys in an escrow file whose secret material is present. */
export async function secretKeyFingerprints(file: string): Promise<string[]> {
  return withTempGpgHome(async (home) =>
    (await importSecretKey(home, file)).flatMap((k) => k.parts.filter((p) => p.hasSecret).map((p) => p.fingerprint)),
  );
}

// ---------------------------------------------------------------- decryption trials

export interface TrialResult {
  ok: boolean;
  /** Plaintext bytes gpg produced (discarded). */
  bytes: number;
  seconds: number;
  /** Stored (encrypted) bytes read and their SHA-256. */
  storedBytes: number;
  storedSha256: string;
  /** Key ids the message is encrypted to (ENC_TO), and those gpg had no secret key for. */
  encTo: string[];
  noSecKey: string[];
  /** Why it failed, from gpg (redacted; no secrets). */
  reason: string;
  stderr: string;
}

/**
 * Decrypts `file` completely with whatever `home` holds (and `passphrase` on fd 3), into a
 * discard sink. Success needs exit 0, DECRYPTION_OKAY, an intact MDC (or AEAD) and no
 * DECRYPTION_FAILED / BADMDC.
 */
export async function decryptTrial(
  home: string,
  file: string,
  passphrase?: string,
  signal?: AbortSignal,
): Promise<TrialResult> {
  const args = ['--homedir', home, ...BASE, '--status-fd', '2'];
  if (passphrase !== undefined) args.push('--passphrase-fd', '3');
  args.push('--decrypt', '--output', '-');
  const t0 = performance.now();
  const gpg = spawnStage('gpg --decrypt', 'gpg', args, {
    signal,
    fd3: passphrase !== undefined ? passphrase + '\n' : undefined,
  });
  const hash = createHash('sha256');
  let storedBytes = 0;
  let bytes = 0;
  const source = createReadStream(file, { highWaterMark: 1 << 20 });
  source.on('data', (b) => {
    hash.update(b as Buffer);
    storedBytes += (b as Buffer).length;
  });
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      cb();
    },
  });
  const [fed, drained, exit] = await Promise.all([
    pipeline(source, gpg.stdin).then(
      () => undefined,
      (e: unknown) => e,
    ),
    pipeline(gpg.stdout, sink).then(
      () => undefined,
      (e: unknown) => e,
    ),
    gpg.exit,
  ]);
  const status = exit.stderr
    .split('\n')
    .filter((l) => l.startsWith('[GNUPG:] '))
    .map((l) => l.slice(9));
  const has = (s: string) => status.some((l) => l === s || l.startsWith(s + ' '));
  const aead = status.some((l) => /^DECRYPTION_INFO \d+ \d+ [1-9]/.test(l));
  const ok =
    exit.code === 0 &&
    has('DECRYPTION_OKAY') &&
    (has('GOODMDC') || aead) &&
    !has('DECRYPTION_FAILED') &&
    !has('BADMDC') &&
    fed === undefined &&
    drained === undefined;
  const encTo = status.filter((l) => l.startsWith('ENC_TO ')).map((l) => l.split(' ')[1] ?? '');
  const noSecKey = status.filter((l) => l.startsWith('NO_SECKEY ')).map((l) => l.split(' ')[1] ?? '');
  let reason = '';
  if (!ok) {
    if (fed instanceof Error && (fed as NodeJS.ErrnoException).code === 'ENOENT')
      reason = 'the artifact file is missing';
    else if (has('BADMDC') || /integrity|MDC|invalid packet|CRC error|unexpected end/i.test(exit.stderr))
      reason = `integrity check failed (${gpgReason(exit.stderr)})`;
    else if (/BAD_PASSPHRASE|Bad session key|bad passphrase/i.test(exit.stderr))
      reason =
        passphrase !== undefined
          ? `wrong passphrase (${gpgReason(exit.stderr)})`
          : `bad session key (${gpgReason(exit.stderr)})`;
    else if (/can't get input|Inappropriate ioctl|no pinentry/i.test(exit.stderr))
      reason =
        'gpg needed a passphrase it was not given (a protected secret key without secretKeyPassphrase, or a passphrase-only artifact)';
    else if (noSecKey.length > 0 && !has('DECRYPTION_OKAY')) reason = `no secret key for ${noSecKey.join(', ')}`;
    else reason = gpgReason(exit.stderr) || `gpg exit ${exit.code ?? exit.signal}`;
  }
  return {
    ok,
    bytes,
    seconds: (performance.now() - t0) / 1000,
    storedBytes,
    storedSha256: hash.digest('hex'),
    encTo,
    noSecKey,
    reason: redact(reason),
    stderr: exit.stderr,
  };
}

/** The last meaningful gpg line (status lines dropped), redacted. */
export function gpgReason(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('[GNUPG:]'));
  const pick = lines.filter((l) => /fail|error|bad|no secret|can't|invalid|not/i.test(l));
  return redact((pick.at(-1) ?? lines.at(-1) ?? '').replace(/^gpg: /, 'gpg: '));
}

// ---------------------------------------------------------------- escrow check

export type ResolvedEscrow =
  | { name: string; kind: 'key'; secretKeyFile: string; secretKeyPassphrase?: string }
  | { name: string; kind: 'passphrase'; passphrase: string };

export interface EscrowReport {
  ok: boolean;
  recipients: { fingerprint: string; file: string | null; uid: string; escrowedBy: string | null }[];
  passphrase: { configured: boolean; escrowedBy: string | null };
  samples: {
    artifact: string;
    key: string;
    result: 'decrypted' | 'failed' | 'not-applicable';
    seconds: number;
    bytes: number;
    detail?: string;
  }[];
  problems: string[];
  /** Not failures, but worth a look (e.g. an escrow key that matches nothing sampled). */
  notes: string[];
}

export interface CheckEscrowOptions {
  repo: LocalRepository;
  recipientKeyFiles: string[];
  /** The configured encryption.passphrase, resolved (compared by hash only). */
  passphrase?: string;
  escrow: ResolvedEscrow[];
  /** Newest artifacts per cloud/component to decrypt (default 2). */
  sample?: number;
  cloud?: string;
  signal?: AbortSignal;
  /** Called after each decryption (progress for the CLI). */
  onSample?: (s: EscrowReport['samples'][number]) => void;
}

const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest();
const samePassphrase = (a: string, b: string) => timingSafeEqual(sha(a), sha(b));

interface LoadedKey {
  entry: Extract<ResolvedEscrow, { kind: 'key' }>;
  home: string;
  keys: KeyListing[];
  /** Fingerprints (primary and subkeys) whose secret material is present. */
  secret: Set<string>;
  all: Set<string>;
}

/** The newest `n` manifests of each cloud/component (scanManifests sorts oldest first). */
export function newestPerComponent(manifests: AnyManifest[], n: number): AnyManifest[] {
  const groups = new Map<string, AnyManifest[]>();
  for (const m of manifests) {
    const k = `${m.cloud}/${m.component}`;
    groups.set(k, [...(groups.get(k) ?? []), m]);
  }
  return [...groups.values()].flatMap((g) =>
    [...g]
      .sort((a, b) => a.startedAt.localeCompare(b.startedAt))
      .slice(-n)
      .reverse(),
  );
}

export async function checkEscrow(o: CheckEscrowOptions): Promise<EscrowReport> {
  const problems: string[] = [];
  const notes: string[] = [];
  const samples: EscrowReport['samples'] = [];
  const homes: string[] = [];
  try {
    // escrowed secret keys, each in its own home
    const loaded: LoadedKey[] = [];
    for (const entry of o.escrow) {
      if (entry.kind !== 'key') continue;
      const home = await mkdtemp(join(tmpdir(), 'osbackup-gpg-'));
      homes.push(home);
      try {
        const keys = await importSecretKey(home, entry.secretKeyFile);
        const secret = new Set(keys.flatMap((k) => k.parts.filter((p) => p.hasSecret).map((p) => p.fingerprint)));
        const all = new Set(keys.flatMap((k) => k.parts.map((p) => p.fingerprint)));
        if (secret.size === 0)
          problems.push(
            `escrow "${entry.name}" (${entry.secretKeyFile}) holds no secret key material (only stubs: exported from a card or with --export-secret-subkeys of another key). Fix: ${ESCROW_FIX(keys[0]?.fingerprint ?? '<fingerprint>')}`,
          );
        loaded.push({ entry, home, keys, secret, all });
      } catch (e) {
        problems.push(
          `escrow "${entry.name}": ${entry.secretKeyFile}: ${redact((e as Error).message)}. Fix: ${ESCROW_FIX('<fingerprint>')}`,
        );
      }
    }
    const passEntries = o.escrow.filter(
      (e): e is Extract<ResolvedEscrow, { kind: 'passphrase' }> => e.kind === 'passphrase',
    );
    const passHome = passEntries.length > 0 ? await mkdtemp(join(tmpdir(), 'osbackup-gpg-')) : '';
    if (passHome) homes.push(passHome);

    /** The escrow key whose secret material covers a recorded (primary) fingerprint. */
    const covers = (l: LoadedKey, fpr: string): boolean =>
      l.secret.has(fpr) ||
      l.keys.some((k) => k.fingerprint === fpr && encryptionParts(k).every((p) => l.secret.has(p.fingerprint)));
    const coveringKey = (fpr: string): LoadedKey | undefined => loaded.find((l) => covers(l, fpr));

    // (a) configured recipients
    const recipients: EscrowReport['recipients'] = [];
    for (const r of await recipientKeys(o.recipientKeyFiles)) {
      const enc = encryptionParts(r);
      const by = loaded.find((l) => enc.every((p) => l.secret.has(p.fingerprint)));
      recipients.push({ fingerprint: r.fingerprint, file: r.file, uid: r.uid, escrowedBy: by?.entry.name ?? null });
      if (!by) {
        const partial = loaded.find((l) => l.all.has(r.fingerprint) || enc.some((p) => l.all.has(p.fingerprint)));
        const missing = enc.map((p) => p.fingerprint).filter((f) => !partial?.secret.has(f));
        problems.push(
          partial
            ? `recipient key ${r.fingerprint} (${r.uid || r.file}): escrow "${partial.entry.name}" lacks the secret of its encryption subkey ${missing.join(', ')}. Fix: ${ESCROW_FIX(r.fingerprint)}`
            : `recipient key ${r.fingerprint} (${r.uid || r.file}, encryption subkey ${enc.map((p) => p.fingerprint).join(', ')}) has no escrowed secret key: backups encrypted to it cannot be opened once this cloud is lost. Fix: ${ESCROW_FIX(r.fingerprint)}`,
        );
      }
    }
    const passEscrow =
      o.passphrase !== undefined ? passEntries.find((e) => samePassphrase(e.passphrase, o.passphrase!)) : undefined;
    if (o.passphrase !== undefined && !passEscrow) {
      problems.push(
        passEntries.length === 0
          ? 'encryption.passphrase has no escrowed copy. Fix: store the passphrase outside the cloud and add it under encryption.escrow as { name, passphrase: { file: … } }'
          : `encryption.passphrase differs from every escrowed passphrase (${passEntries.map((e) => `"${e.name}"`).join(', ')}; compared by SHA-256): it was changed without escrowing the new one. Fix: store the current passphrase outside the cloud and add it under encryption.escrow`,
      );
    }

    // (b) + (c) recent artifacts
    const manifests = newestPerComponent(await o.repo.scanManifests(o.cloud), o.sample ?? 2);
    if (manifests.length === 0)
      notes.push(`no artifacts in ${o.repo.root}${o.cloud ? ` for cloud ${o.cloud}` : ''}: only the keys were checked`);
    const unescrowed = new Map<string, string[]>();
    const usedKeys = new Set<string>();
    for (const sealed of manifests.flatMap(sealedFiles)) {
      const enc = sealed.encryption;
      const rel = sealed.rel;
      const file = o.repo.path(rel);
      for (const f of enc.recipientFingerprints)
        if (!coveringKey(f)) unescrowed.set(f, [...(unescrowed.get(f) ?? []), rel]);
      let openedByPassphrase = false;
      let openedAtAll = false;
      const record = (key: string, t: TrialResult | undefined, applicable: boolean) => {
        const s: EscrowReport['samples'][number] = !applicable
          ? { artifact: rel, key, result: 'not-applicable', seconds: 0, bytes: 0 }
          : {
              artifact: rel,
              key,
              result: t!.ok ? 'decrypted' : 'failed',
              seconds: Math.round(t!.seconds * 1000) / 1000,
              bytes: t!.bytes,
              ...(t!.ok ? {} : { detail: t!.reason }),
            };
        samples.push(s);
        o.onSample?.(s);
        if (t && t.ok && t.storedSha256 !== sealed.sha256)
          problems.push(
            `${rel}: decrypted, but its SHA-256 ${t.storedSha256} differs from the manifest's ${sealed.sha256}. Fix: the artifact changed after it was written; restore from another backup and investigate the repository`,
          );
      };
      for (const l of loaded) {
        const applicable = enc.recipientFingerprints.some((f) => covers(l, f));
        if (!applicable) {
          record(l.entry.name, undefined, false);
          continue;
        }
        usedKeys.add(l.entry.name);
        const t = await decryptTrial(l.home, file, l.entry.secretKeyPassphrase, o.signal);
        record(l.entry.name, t, true);
        if (t.ok) openedAtAll = true;
        else
          problems.push(
            `escrow "${l.entry.name}" (${[...l.keys].map((k) => k.fingerprint).join(', ')}) cannot decrypt ${rel}, which is encrypted to it: ${t.reason}. Fix: ${/passphrase it was not given|wrong passphrase|bad session key/i.test(t.reason) ? `set (or correct) secretKeyPassphrase for escrow "${l.entry.name}"` : ESCROW_FIX(enc.recipientFingerprints.join(' '))}`,
          );
      }
      for (const p of passEntries) {
        if (!enc.passphrase) {
          record(p.name, undefined, false);
          continue;
        }
        usedKeys.add(p.name);
        const t = await decryptTrial(passHome, file, p.passphrase, o.signal);
        record(p.name, t, true);
        if (t.ok) openedByPassphrase = openedAtAll = true;
      }
      if (enc.passphrase && !openedByPassphrase) {
        problems.push(
          `${rel} is protected by a passphrase that ${passEntries.length ? `no escrowed passphrase (${passEntries.map((e) => `"${e.name}"`).join(', ')}) opens` : 'is not escrowed'}: ${
            samples
              .filter((s) => s.artifact === rel && s.result === 'failed' && passEntries.some((e) => e.name === s.key))
              .map((s) => s.detail)
              .join('; ') || 'no passphrase entry'
          }. Fix: add the passphrase these backups were made with (an earlier one, if it was rotated) under encryption.escrow as { name, passphrase }`,
        );
      }
      if (
        !openedAtAll &&
        enc.recipientFingerprints.every((f) => coveringKey(f)) &&
        (!enc.passphrase || passEntries.length > 0) &&
        loaded.length + passEntries.length > 0 &&
        !samples.some((s) => s.artifact === rel && s.result === 'failed')
      ) {
        problems.push(
          `${rel}: no escrow entry applies to it (recorded recipients: ${enc.recipientFingerprints.join(', ') || 'none'}${enc.passphrase ? ', a passphrase' : ''})`,
        );
      }
    }
    for (const [f, rels] of unescrowed) {
      const configured = recipients.some((r) => r.fingerprint === f);
      problems.push(
        `${rels.length} recent artifact(s) (${rels.slice(0, 3).join(', ')}${rels.length > 3 ? ', …' : ''}) are encrypted to ${f}, which ${configured ? 'is a configured recipient but' : 'is no longer a configured recipient (a rotated key) and'} has no escrowed secret key. Fix: ${ESCROW_FIX(f)}`,
      );
    }
    for (const e of o.escrow) {
      if (
        !usedKeys.has(e.name) &&
        manifests.length > 0 &&
        !(e.kind === 'passphrase' && passEscrow === e) &&
        !recipients.some((r) => r.escrowedBy === e.name)
      ) {
        notes.push(
          `escrow "${e.name}" matches no configured recipient or passphrase and none of the ${manifests.length} sampled artifact(s) (an older key kept for older backups, or the wrong file)`,
        );
      }
    }
    return {
      ok: problems.length === 0,
      recipients,
      passphrase: { configured: o.passphrase !== undefined, escrowedBy: passEscrow?.name ?? null },
      samples,
      problems,
      notes,
    };
  } finally {
    for (const h of homes) await disposeGpgHome(h);
  }
}

// ---------------------------------------------------------------- restore-time errors

/** What a failed `gpg --decrypt` stderr says went wrong. */
export function decryptErrorKind(
  stderr: string,
): 'missing-key' | 'wrong-passphrase' | 'needs-passphrase' | 'integrity' | 'other' {
  if (/BADMDC|integrity|MDC|invalid packet|CRC error|unexpected end of file|invalid armor/i.test(stderr))
    return 'integrity';
  if (/BAD_PASSPHRASE|Bad session key|bad passphrase/i.test(stderr)) return 'wrong-passphrase';
  if (/No secret key|NO_SECKEY/i.test(stderr)) return 'missing-key';
  if (/can't get input|Inappropriate ioctl|no pinentry|NEED_PASSPHRASE/i.test(stderr)) return 'needs-passphrase';
  return 'other';
}

/**
 * A decryption failure at restore time as a non-retryable DecryptionFailed naming the key
 * the artifact needs, or ChecksumMismatch when gpg reports damaged data. No secret appears:
 * fingerprints and the gpg reason (redacted) only.
 */
export function classifyDecryptError(
  stderr: string,
  encryption: EncryptionInfo,
  opts: { artifact: string; gpgHome?: string } = { artifact: 'the artifact' },
): ApplicationFailure {
  const kind = decryptErrorKind(stderr);
  const why = gpgReason(stderr);
  const fprs = encryption.recipientFingerprints;
  const to = [
    fprs.length ? `the key${fprs.length > 1 ? 's' : ''} ${fprs.join(', ')}` : '',
    encryption.passphrase ? 'a passphrase' : '',
  ]
    .filter(Boolean)
    .join(' and/or ');
  if (kind === 'integrity') {
    return fatal(
      FailureType.ChecksumMismatch,
      `gpg rejected ${opts.artifact} as damaged (${why})`,
      'the artifact is corrupt or was tampered with: restore an earlier backup and investigate the repository',
    );
  }
  const lacks: string[] = [];
  if (fprs.length) lacks.push(`the secret key for ${fprs.join(' or ')}`);
  if (encryption.passphrase)
    lacks.push(
      kind === 'wrong-passphrase' ? 'the right passphrase (the configured one is wrong)' : 'the right passphrase',
    );
  const home = opts.gpgHome
    ? `gpg --homedir ${opts.gpgHome} --import <escrowed secret key>`
    : "gpg --import <escrowed secret key> into the worker's gpg home";
  const fixes: string[] = [];
  if (fprs.length) fixes.push(`import the escrowed secret key for ${fprs[0]} (${home})`);
  if (encryption.passphrase)
    fixes.push('set encryption.passphrase to the passphrase these backups were made with (its escrowed copy)');
  return fatal(
    FailureType.DecryptionFailed,
    `cannot decrypt ${opts.artifact}: it is encrypted to ${to || 'nothing recorded'}; this worker has ${lacks.length > 1 ? 'neither ' + lacks.join(' nor ') : (lacks[0] ?? 'no matching key')} (${why || kind})`,
    fixes.join(', or ') || "check the manifest and the worker's keys",
  );
}
