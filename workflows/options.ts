// Activity option presets, and the only way workflows proxy activities: short activities through
// shortActivities(), data-bound ones through dataBoundActivities() (workflows/activity-classes.ts).
// Every preset has a heartbeat timeout: the worker keeps every running activity's heartbeat
// going (activities/keepalive.ts), so a lost worker is noticed in seconds, not at the end of a
// start-to-close bound.
import type { Duration } from '@temporalio/common';
import { ActivityCancellationType, proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { DataBoundActivities, ShortActivities } from './activity-classes.js';

/** Options every proxy takes: with a heartbeat timeout. */
export interface HeartbeatedOptions extends ActivityOptions {
  heartbeatTimeout: Duration;
}

/** Short activities (bounded work): a data-bound one is not callable through this proxy. */
export function shortActivities(options: HeartbeatedOptions) {
  return proxyActivities<ShortActivities>(options);
}

/**
 * Data-bound activities: their options must not bound them by a guess at the data's size (long
 * start-to-close or none); the heartbeat timeout notices a lost worker.
 */
export function dataBoundActivities(options: HeartbeatedOptions) {
  return proxyActivities<DataBoundActivities>(options);
}

const NON_RETRYABLE = [
  'ConfigInvalid',
  'SecretUnavailable',
  'SshAuthFailed',
  'SshHostKeyMismatch',
  'ChecksumMismatch',
  'DecryptionFailed',
  'BackupNotFound',
  'ChainBroken',
  'DiskFull',
  'MariadbPrivileges',
  'VerificationFailed',
  'ArtifactMissing',
  'TargetNotMounted',
  'RetentionUnsafe',
  'ImportSourceCorrupt',
  'BinlogGap',
  'PitrOutOfRange',
];

export const shortCall: HeartbeatedOptions = {
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '30 seconds',
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    maximumAttempts: 5,
    nonRetryableErrorTypes: NON_RETRYABLE,
  },
};

/** Streams of many GB: bounded by heartbeats, not by a guess at their length. */
export const longStream: HeartbeatedOptions = {
  startToCloseTimeout: '12 hours',
  // a cancelled workflow waits for the stream to stop and discard its partial artifact
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  heartbeatTimeout: '15 seconds',
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 4,
    maximumInterval: '5 minutes',
    maximumAttempts: 4,
    nonRetryableErrorTypes: NON_RETRYABLE,
  },
};

export const serverControl: HeartbeatedOptions = {
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '15 seconds',
  retry: {
    initialInterval: '5s',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 3,
    nonRetryableErrorTypes: NON_RETRYABLE,
  },
};

/**
 * One step of the binlog archiver: seconds long, retried without end (no maximumAttempts: a controller that is
 * down for an hour must not stop archiving for good); a lost worker is noticed by heartbeat.
 */
export const archiveStep: HeartbeatedOptions = {
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '20 seconds',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    nonRetryableErrorTypes: NON_RETRYABLE,
  },
};

/**
 * A Galera donor's stream: one retry (a worker lost mid-stream resumes on the same donor), then
 * the workflow moves to another node rather than waiting out longStream's backoff on a dead one.
 */
export const galeraStream: HeartbeatedOptions = { ...longStream, retry: { ...longStream.retry, maximumAttempts: 2 } };

/** Putting a donor back in sync: a few quick tries; a dead donor needs none (desync does not survive a restart). */
export const galeraResyncCall: HeartbeatedOptions = {
  ...shortCall,
  retry: { ...shortCall.retry, initialInterval: '1s', maximumAttempts: 3 },
};

/**
 * Waits on a cloud resource of unknown length (a snapshot, a volume, a server): bounded by the
 * stuck limit, which the activity checks itself from the resource's creation time, and by heartbeats.
 */
export function stuckAwareWait(stuckAfterSeconds: number): HeartbeatedOptions {
  return {
    startToCloseTimeout: `${stuckAfterSeconds + 300} seconds`,
    heartbeatTimeout: '60 seconds',
    cancellationType: ActivityCancellationType.TRY_CANCEL,
    retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 6 },
  };
}

/**
 * A call of seconds that may take minutes (a control-plane restore decrypting a large tree): its
 * activity heartbeats on a timer, so a lost worker is noticed within 20 s, not at the end of a
 * generous start-to-close.
 */
export const heartbeatingCall: HeartbeatedOptions = {
  ...shortCall,
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '20 seconds',
};

/**
 * One binlog compaction merge: decrypts up to compactMaxPieces segments and seals one (minutes
 * at most); heartbeats per piece. A merge is idempotent (its id is its range), so retries are safe.
 */
export const compactionMerge: HeartbeatedOptions = {
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '60 seconds',
  retry: {
    initialInterval: '5s',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 3,
    nonRetryableErrorTypes: NON_RETRYABLE,
  },
};

/** A scan of every manifest of a cloud (~8 s at 17,280 segments): a generous bound. */
export const repositoryScan: HeartbeatedOptions = { ...shortCall, startToCloseTimeout: '10 minutes' };

/**
 * Data-bound work called where a workflow otherwise makes short calls (facts over every table,
 * re-hashing an artifact, removing a datadir): no start-to-close bound, the heartbeat decides.
 */
export const dataBoundCall: HeartbeatedOptions = {
  ...shortCall,
  startToCloseTimeout: '24 hours',
  heartbeatTimeout: '30 seconds',
};
