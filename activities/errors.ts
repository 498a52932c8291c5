// Typed failures. Every failure names its cause and the fix; non-retryable ones are those
// a retry cannot cure (bad input, auth, integrity). Messages pass through redact().
import { ApplicationFailure } from '@temporalio/common';
import { redact } from './redact.js';

export const FailureType = {
  ConfigInvalid: 'ConfigInvalid',
  SecretUnavailable: 'SecretUnavailable',
  SshAuthFailed: 'SshAuthFailed',
  SshHostKeyMismatch: 'SshHostKeyMismatch',
  SshUnreachable: 'SshUnreachable',
  SshConnectionLost: 'SshConnectionLost',
  RemoteCommandFailed: 'RemoteCommandFailed',
  MariadbBackupFailed: 'MariadbBackupFailed',
  MariadbPrivileges: 'MariadbPrivileges',
  MariadbUnreachable: 'MariadbUnreachable',
  MariadbLockTimeout: 'MariadbLockTimeout',
  MariadbRestoreFailed: 'MariadbRestoreFailed',
  RabbitmqUnreachable: 'RabbitmqUnreachable',
  RabbitmqAuthFailed: 'RabbitmqAuthFailed',
  RabbitmqNodeUnknown: 'RabbitmqNodeUnknown',
  RabbitmqDefinitionsRejected: 'RabbitmqDefinitionsRejected',
  RabbitmqCommandFailed: 'RabbitmqCommandFailed',
  ChecksumMismatch: 'ChecksumMismatch',
  DecryptionFailed: 'DecryptionFailed',
  EncryptionFailed: 'EncryptionFailed',
  BackupNotFound: 'BackupNotFound',
  ChainBroken: 'ChainBroken',
  /** An original being imported is cut short or damaged (gzip, xbstream structure or CRC, missing checkpoints). */
  ImportSourceCorrupt: 'ImportSourceCorrupt',
  RepositoryWriteFailed: 'RepositoryWriteFailed',
  DiskFull: 'DiskFull',
  VerificationFailed: 'VerificationFailed',
  S3AuthFailed: 'S3AuthFailed',
  S3BucketMissing: 'S3BucketMissing',
  S3Unavailable: 'S3Unavailable',
  S3RequestFailed: 'S3RequestFailed',
  ObjectTooLarge: 'ObjectTooLarge',
  ArtifactMissing: 'ArtifactMissing',
  TargetNotMounted: 'TargetNotMounted',
  RetentionUnsafe: 'RetentionUnsafe',
  /** No usable OpenStack credentials (clouds.yaml, openrc, OS_* variables). */
  OpenstackCredentialsMissing: 'OpenstackCredentialsMissing',
  /** Keystone refused the credentials (401). */
  OpenstackAuthFailed: 'OpenstackAuthFailed',
  /** The service catalog has no endpoint for the service/region/interface asked for. */
  OpenstackEndpointMissing: 'OpenstackEndpointMissing',
  OpenstackForbidden: 'OpenstackForbidden',
  OpenstackNotFound: 'OpenstackNotFound',
  /** Any other 4xx: the API's own message says what it refused. */
  OpenstackRequestRejected: 'OpenstackRequestRejected',
  /** 409: a resource in transition (retryable). */
  OpenstackConflict: 'OpenstackConflict',
  /** 5xx, 429, network errors: retryable. */
  OpenstackUnavailable: 'OpenstackUnavailable',
  /** A resource stayed in a transitional state (creating, …) past the configured time. */
  OpenstackResourceStuck: 'OpenstackResourceStuck',
  /** A resource went to `error`. */
  OpenstackResourceError: 'OpenstackResourceError',
  BinlogGap: 'BinlogGap',
  PitrOutOfRange: 'PitrOutOfRange',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/** A failure a retry cannot fix: bad input, refused credentials, broken integrity. */
export function fatal(type: FailureType, message: string, fix: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message: redact(`${message}. Fix: ${fix}`), nonRetryable: true });
}

/** A failure worth retrying (network, a busy server). */
export function transient(type: FailureType, message: string, fix: string): ApplicationFailure {
  return ApplicationFailure.create({
    type,
    message: redact(`${message}. If it persists: ${fix}`),
    nonRetryable: false,
  });
}

/** Map a local filesystem error to a typed failure. */
export function fsFailure(e: unknown, what: string): ApplicationFailure {
  if (e instanceof ApplicationFailure) return e; // already typed (e.g. a share that is not mounted)
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return fatal(
      FailureType.DiskFull,
      `${what}: no space left on the repository's disk`,
      'free space (prune old backups) or extend the volume; the partial artifact was discarded and earlier backups are untouched',
    );
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return fatal(
      FailureType.RepositoryWriteFailed,
      `${what}: permission denied (${code})`,
      'make the repository path writable by the worker user',
    );
  }
  return transient(
    FailureType.RepositoryWriteFailed,
    `${what}: ${(e as Error)?.message ?? String(e)}`,
    'check the repository disk and mount',
  );
}
