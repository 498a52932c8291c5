// The repository as the database backups see it: where an artifact is streamed while it is
// taken, how it is published (manifest last), and how manifests, facts and verification records
// are read back. Two kinds: a folder (local-repository.ts) and an S3 bucket (s3-repository.ts).
import type { Readable, Writable } from 'node:stream';
import type { ReferenceFacts, VerificationRecord } from '../../core/manifest/manifest.js';
import type { AnyManifest } from '../../core/manifest/any-manifest.js';

/** One artifact being written: bytes go into `sink`; nothing is visible until publish writes the manifest. */
export interface ArtifactUpload {
  /** What the workflow hands back to publish or discard it: a staging folder, or "s3:<artifact folder>". */
  stagingDir: string;
  /** Where the sealed bytes go (a file, or the multipart upload's feed). */
  sink: Writable;
  /** Settles when the bytes are stored: a file closed, or an upload completed and confirmed (size and ETag by HEAD). */
  finished: Promise<void>;
  /** Bytes the store has acknowledged so far (a file: what was written). */
  storedBytes(): number;
  /** The failure to report when the sink broke: the store's own, typed, when it has one. */
  failure(e: unknown): Promise<Error>;
}

export interface Repository {
  readonly type: 'local' | 's3';
  /** Where it is, for messages: a path or s3://bucket/prefix at the endpoint. */
  readonly location: string;
  /** Starts writing `file` of the artifact folder `relDir` (clouds/<cloud>/<component>/<id>). */
  beginArtifact(relDir: string, file: string, signal: AbortSignal): Promise<ArtifactUpload>;
  /** Drops what an attempt wrote that will not be published; a published artifact is never touched. */
  discardStaging(stagingDir: string): Promise<void>;
  /** Puts the artifact in place with `extraFiles`, the manifest last. Idempotent. */
  publish(stagingDir: string, relDir: string, manifest: AnyManifest, extraFiles: Record<string, string>): Promise<void>;
  readManifest(relDir: string): Promise<AnyManifest | undefined>;
  scanManifests(cloud?: string): Promise<AnyManifest[]>;
  readReferenceFacts(relDir: string): Promise<ReferenceFacts | undefined>;
  writeReferenceFacts(relDir: string, facts: ReferenceFacts): Promise<boolean>;
  writeVerification(relDir: string, record: VerificationRecord): Promise<string>;
  readVerifications(relDir: string): Promise<VerificationRecord[]>;
  /** A published file's bytes (`rel` inside the repository). */
  openArtifact(rel: string, signal?: AbortSignal): Promise<Readable>;
  /** A published file's SHA-256 and size, read whole. */
  hashArtifact(rel: string, signal?: AbortSignal): Promise<{ sha256: string; bytes: number }>;
}

/**
 * A database backup whose facts come from the backup gets its `tables` from facts.json once its
 * first verified restore has written it: every reader (restores, drills, the catalog) then
 * compares with the same reference.
 */
export function withReferenceFacts(m: AnyManifest, f: ReferenceFacts | undefined): AnyManifest {
  if ('factsFrom' in m && m.factsFrom === 'backup' && m.tables.length === 0 && f && f.backupId === m.id) {
    m.tables = f.tables.map((t) => ({ ...t, stable: true }));
    m.factsReference = { readAt: f.readAt, host: f.host, workflowId: f.workflowId };
  }
  return m;
}

export const needsReferenceFacts = (m: AnyManifest): boolean =>
  'factsFrom' in m && m.factsFrom === 'backup' && m.tables.length === 0;
