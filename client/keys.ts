// `osbackup keys check` and `osbackup import openssl`: operator commands that run in the CLI
// process itself (no workflow, no Temporal): they read the repository and keys named by the
// config directly, and every gpg they start uses a throwaway home.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { execa } from 'execa';
import { parseDocument } from 'yaml';
import { ApplicationFailure } from '@temporalio/common';
import { ConfigError, configPath, parseConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { escrowSchema, isEscrowKey, type EscrowEntry } from '../config/escrow-schema.js';
import { checkEscrow, type EscrowReport, type ResolvedEscrow } from '../activities/crypto/escrow.js';
import { importOpensslFile } from '../activities/crypto/openssl-import.js';
import { resolveSecret } from '../activities/secrets.js';
import { S3_REPOSITORY_LIMITATION } from '../config/repository-schema.js';
import { LocalRepository } from '../activities/storage/local-repository.js';
import { CliError, EXIT } from './connect.js';

interface Globals {
  config?: string;
  json?: boolean;
}

/**
 * The config plus encryption.escrow. Works before and after escrowSchema is merged into
 * encryptionSchema: the escrow list is taken out and validated here, the rest as usual.
 */
export function loadConfigWithEscrow(file: string): { config: Config; escrow: EscrowEntry[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, [
      { path: '(file)', message: `cannot be read: ${(e as NodeJS.ErrnoException).code ?? String(e)}` },
    ]);
  }
  const doc = parseDocument(text);
  const raw = doc.errors.length ? undefined : (doc.toJS() as { encryption?: { escrow?: unknown } } | null);
  const rawEscrow = raw?.encryption && typeof raw.encryption === 'object' ? raw.encryption.escrow : undefined;
  if (raw?.encryption && typeof raw.encryption === 'object') doc.deleteIn(['encryption', 'escrow']);
  const problems: { path: string; message: string }[] = [];
  let config: Config | undefined;
  try {
    config = parseConfig(raw ? doc.toString() : text, file);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    problems.push(...e.problems);
  }
  const esc = escrowSchema.safeParse(rawEscrow ?? []);
  if (!esc.success)
    problems.push(
      ...esc.error.issues.map((i) => ({ path: ['encryption', 'escrow', ...i.path].join('.'), message: i.message })),
    );
  if (problems.length || !config || !esc.success) throw new ConfigError(file, problems);
  return { config, escrow: esc.data };
}

function load(g: Globals): { config: Config; escrow: EscrowEntry[] } {
  try {
    return loadConfigWithEscrow(configPath(g.config));
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(e.message, EXIT.configInvalid);
    throw e;
  }
}

function failureText(e: unknown): string {
  return e instanceof ApplicationFailure ? `[${e.type}] ${e.message}` : e instanceof Error ? e.message : String(e);
}

export async function resolveEscrow(entries: EscrowEntry[], env: NodeJS.ProcessEnv): Promise<ResolvedEscrow[]> {
  const out: ResolvedEscrow[] = [];
  for (const [i, e] of entries.entries()) {
    if (isEscrowKey(e))
      out.push({
        name: e.name,
        kind: 'key',
        secretKeyFile: e.secretKeyFile,
        secretKeyPassphrase: e.secretKeyPassphrase
          ? await resolveSecret(e.secretKeyPassphrase, `encryption.escrow.${i}.secretKeyPassphrase`, env)
          : undefined,
      });
    else
      out.push({
        name: e.name,
        kind: 'passphrase',
        passphrase: await resolveSecret(e.passphrase, `encryption.escrow.${i}.passphrase`, env),
      });
  }
  return out;
}

export function reportText(r: EscrowReport): string {
  const lines: string[] = [];
  for (const k of r.recipients)
    lines.push(
      `${k.escrowedBy ? '✓' : '✗'} recipient ${k.fingerprint} ${k.uid ? `(${k.uid}) ` : ''}${k.escrowedBy ? `escrowed by "${k.escrowedBy}"` : 'NOT ESCROWED'}`,
    );
  if (r.passphrase.configured)
    lines.push(
      `${r.passphrase.escrowedBy ? '✓' : '✗'} passphrase ${r.passphrase.escrowedBy ? `escrowed by "${r.passphrase.escrowedBy}"` : 'NOT ESCROWED'}`,
    );
  for (const s of r.samples)
    if (s.result !== 'not-applicable')
      lines.push(
        `${s.result === 'decrypted' ? '✓' : '✗'} ${s.key}: ${s.artifact} ${s.result}${s.result === 'decrypted' ? ` (${s.bytes} bytes in ${s.seconds.toFixed(1)} s)` : `: ${s.detail ?? ''}`}`,
      );
  for (const n of r.notes) lines.push(`note: ${n}`);
  for (const p of r.problems) lines.push(`PROBLEM: ${p}`);
  lines.push(
    r.ok
      ? `keys check OK: ${r.samples.filter((s) => s.result === 'decrypted').length} decryptions with escrowed keys alone`
      : `keys check FAILED: ${r.problems.length} problem(s)`,
  );
  return lines.join('\n') + '\n';
}

export function registerKeysCommands(program: Command): void {
  program
    .command('keys')
    .description('encryption keys and their escrow')
    .command('check')
    .description(
      'prove that the escrowed keys (kept outside the cloud) decrypt recent artifacts; fails when a recipient, a rotated key or the passphrase is not escrowed',
    )
    .option('--sample <n>', 'newest artifacts per cloud/component to decrypt with each escrow entry', '2')
    .option('--cloud <name>', 'only this cloud')
    .action(async function (this: Command) {
      const g = this.optsWithGlobals<Globals & { sample: string; cloud?: string }>();
      const sample = Number(g.sample);
      if (!Number.isInteger(sample) || sample < 0)
        throw new CliError(`--sample must be a whole number ≥ 0 (got ${g.sample})`, EXIT.usage);
      const { config, escrow } = load(g);
      if (config.repository.type === 's3')
        throw new CliError(
          `keys check opens sample artifacts in a folder repository, but ${S3_REPOSITORY_LIMITATION}. Fix: run it on a worker whose repository is a folder, or open an artifact by hand (docs/s3-repository.md)`,
          EXIT.usage,
        );
      const repoPath = config.repository.path;
      let report: EscrowReport;
      try {
        const resolved = await resolveEscrow(escrow, process.env);
        const passphrase = config.encryption.passphrase
          ? await resolveSecret(config.encryption.passphrase, 'encryption.passphrase', process.env)
          : undefined;
        report = await checkEscrow({
          repo: new LocalRepository(repoPath),
          recipientKeyFiles: config.encryption.recipientKeyFiles,
          passphrase,
          escrow: resolved,
          sample,
          cloud: g.cloud,
          onSample: g.json
            ? undefined
            : (s) =>
                s.result !== 'not-applicable' && process.stderr.write(`  ${s.result} ${s.artifact} with "${s.key}"\n`),
        });
      } catch (e) {
        throw new CliError(failureText(e), EXIT.failed);
      }
      process.stdout.write(g.json ? JSON.stringify(report, null, 2) + '\n' : reportText(report));
      if (!report.ok) throw new CliError(`keys check failed: ${report.problems.length} problem(s)`, EXIT.failed);
    });

  program
    .command('import')
    .description("bring foreign artifacts into osbackup's format")
    .command('openssl')
    .description(
      'decrypt a seed-era `openssl enc -aes-256-cbc -pbkdf2` file and re-protect it (zstd + OpenPGP, as the config says); the plaintext never touches disk',
    )
    .argument('<file>', 'the .enc file')
    .requiredOption('--passphrase-file <path>', 'file holding the passphrase the seed used (first line)')
    .requiredOption('--out <file>', 'where to write the re-protected artifact (must not exist)')
    .option('--iter <n>', 'PBKDF2 iterations the seed used (openssl default 10000)', '10000')
    .option('--md <digest>', 'PBKDF2 digest the seed used (openssl default sha256)', 'sha256')
    .option('--level <n>', 'zstd level', '3')
    .action(async function (this: Command, file: string) {
      const g = this.optsWithGlobals<
        Globals & { passphraseFile: string; out: string; iter: string; md: string; level: string }
      >();
      const { config } = load(g);
      const home = await mkdtemp(join(tmpdir(), 'osbackup-gpg-'));
      try {
        const passphrase = config.encryption.passphrase
          ? await resolveSecret(config.encryption.passphrase, 'encryption.passphrase', process.env)
          : undefined;
        const r = await importOpensslFile({
          file: resolve(file),
          passphraseRef: { file: resolve(g.passphraseFile) },
          env: process.env,
          out: resolve(g.out),
          keys: { homedir: home, passphrase, recipientKeyFiles: config.encryption.recipientKeyFiles },
          iterations: Number(g.iter),
          digest: g.md,
          compressionLevel: Number(g.level),
        });
        process.stdout.write(
          g.json
            ? JSON.stringify(r, null, 2) + '\n'
            : `imported ${r.imported.originalFile} (${r.imported.originalBytes} bytes, sha256 ${r.imported.originalSha256})\n  → ${r.file}: ${r.bytes} bytes, sha256 ${r.sha256} (plaintext ${r.streamBytes} bytes, zstd + OpenPGP to ${[...r.encryption.recipientFingerprints, r.encryption.passphrase ? 'passphrase' : ''].filter(Boolean).join(', ')})\n`,
        );
      } catch (e) {
        if (e instanceof CliError) throw e;
        throw new CliError(failureText(e), EXIT.failed);
      } finally {
        await execa('gpgconf', ['--homedir', home, '--kill', 'all'], { reject: false });
        await rm(home, { recursive: true, force: true });
      }
    });
}
