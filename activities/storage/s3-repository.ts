// The repository in an S3 bucket: a backup streams into a multipart upload at its final key while
// it is hashed — no byte lands on the worker's disk, and memory holds only the parts in flight
// ((queueSize + 1) × partSize). Visibility is the manifest's, as in a folder: the object alone is
// garbage until publish writes manifest.json, and publish does so only after the object's size
// and ETag (HEAD) were confirmed against what the worker sent (or, with verifyAfterWrite, its
// SHA-256 re-read). A failed or cancelled upload is aborted (AbortMultipartUpload); one whose
// worker died is aborted by the next attempt of the same backup, or by garbage collection.
import { PassThrough, type Readable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/common';
import type { S3RepositoryConfig } from '../../config/repository-schema.js';
import {
  FACTS_FILE,
  MANIFEST_FILE,
  type ReferenceFacts,
  type VerificationRecord,
} from '../../core/manifest/manifest.js';
import { sealedFiles, type AnyManifest } from '../../core/manifest/any-manifest.js';
import { fatal, FailureType, transient } from '../errors.js';
import { sameEtag } from './s3-store.js';
import { hashObject, scanTargetManifests, type S3TargetStore } from './target.js';
import { needsReferenceFacts, withReferenceFacts, type ArtifactUpload, type Repository } from './repository.js';

const TOKEN = 's3:';

export class S3Repository implements Repository {
  readonly type = 's3' as const;
  readonly location: string;

  constructor(
    readonly target: S3TargetStore,
    private readonly cfg: Pick<S3RepositoryConfig, 'verifyAfterWrite'>,
  ) {
    this.location = target.location;
  }

  private async manifestText(relDir: string): Promise<string | undefined> {
    return this.target.readText(`${relDir}/${MANIFEST_FILE}`);
  }

  /** Clears what an earlier attempt of the same artifact left: open uploads and objects without a manifest. */
  private async clearLeftovers(relDir: string): Promise<string[]> {
    const store = await this.target.s3();
    const aborted = await store.abortStaleUploads(`${relDir}/`, 0);
    const objects = await this.target.list(`${relDir}/`);
    await this.target.deleteKeys(objects.map((o) => o.key));
    return [...aborted.map((u) => `${u.key} (upload ${u.uploadId})`), ...objects.map((o) => o.key)];
  }

  async beginArtifact(relDir: string, file: string, signal: AbortSignal): Promise<ArtifactUpload> {
    const store = await this.target.s3();
    await store.checkBucket(signal);
    if (await this.manifestText(relDir))
      throw fatal(
        FailureType.ConfigInvalid,
        `${relDir} is already published on ${this.location}: a second stream for the same backup id`,
        'start a new backup (it gets a new id)',
      );
    // an attempt whose worker died left its multipart upload open (and maybe a completed object)
    await this.clearLeftovers(relDir);
    const key = `${relDir}/${file}`;
    // the upload reads from here as fast as the store takes parts: the pipeline upstream waits
    const sink = new PassThrough({ highWaterMark: 1 << 20 });
    let acknowledged = 0;
    const finished = store.putStream(key, sink, { signal, onProgress: (n) => (acknowledged = n) }).then(async (put) => {
      acknowledged = put.bytes;
      const head = await store.head(key, signal);
      if (!head || head.size !== put.bytes)
        throw fatal(
          FailureType.ChecksumMismatch,
          `${key} on ${this.location} holds ${head ? `${head.size} bytes` : 'nothing'} after its upload of ${put.bytes} bytes completed`,
          'the store lost or changed the object: check it, then take the backup again',
        );
      if (this.cfg.verifyAfterWrite) {
        const back = await hashObject(this.target, key, undefined, signal);
        if (back.sha256 !== put.sha256 || back.bytes !== put.bytes)
          throw fatal(
            FailureType.ChecksumMismatch,
            `${key} reads back from ${this.location} as SHA-256 ${back.sha256} (${back.bytes} bytes), sent as ${put.sha256} (${put.bytes} bytes)`,
            'the store returned other bytes than it was sent: check it, then take the backup again',
          );
      } else if (!sameEtag(head.etag, put.md5Etag))
        throw fatal(
          FailureType.ChecksumMismatch,
          `${key} on ${this.location} has ETag ${head.etag ?? '(none)'}, but the bytes sent make ${put.md5Etag} (${put.parts} part(s)): the store did not keep what it was sent`,
          'check the store; if its ETags are not MD5s (AWS SSE-KMS or SSE-C), set repository.verifyAfterWrite: true so the object is re-read and hashed instead',
        );
    });
    finished.catch(() => undefined); // awaited by the stream; never an unhandled rejection meanwhile
    return {
      stagingDir: TOKEN + relDir,
      sink,
      finished,
      storedBytes: () => acknowledged,
      failure: async (e) => {
        const own = await finished.then(
          () => undefined,
          (x: unknown) => x,
        );
        if (own instanceof Error) return own;
        return transient(
          FailureType.S3RequestFailed,
          `uploading ${key} to ${this.location}: ${e instanceof Error ? e.message : String(e)}`,
          'the upload was aborted; the backup is retried',
        );
      },
    };
  }

  async discardStaging(stagingDir: string): Promise<void> {
    if (!stagingDir.startsWith(TOKEN)) return;
    const relDir = stagingDir.slice(TOKEN.length);
    if (!/^clouds\/[^/]+\/[^/]+\/[^/]+$/.test(relDir) || (await this.manifestText(relDir))) return;
    await this.clearLeftovers(relDir);
  }

  async publish(
    stagingDir: string,
    relDir: string,
    manifest: AnyManifest,
    extraFiles: Record<string, string>,
  ): Promise<void> {
    if (await this.manifestText(relDir)) return;
    if (stagingDir !== TOKEN + relDir)
      throw fatal(
        FailureType.ConfigInvalid,
        `cannot publish ${relDir} from ${stagingDir}: the artifact was staged elsewhere`,
        'a worker with another repository configuration staged it: run the backup again',
      );
    // the upload was confirmed when it completed; what is there now must still be that object
    for (const f of sealedFiles(manifest)) {
      const now = await this.target.stat(f.rel);
      if (!now)
        throw fatal(
          FailureType.ArtifactMissing,
          `${f.rel} is gone from ${this.location} before its manifest was written`,
          'take the backup again; check what deletes objects in the bucket',
        );
      if (now.bytes !== f.bytes)
        throw fatal(
          FailureType.ChecksumMismatch,
          `${f.rel} on ${this.location} holds ${now.bytes} bytes, the manifest records ${f.bytes}`,
          'take the backup again; check what writes into the bucket',
        );
    }
    for (const [name, text] of Object.entries(extraFiles)) await this.target.putText(`${relDir}/${name}`, text);
    await this.target.putText(`${relDir}/${MANIFEST_FILE}`, JSON.stringify(manifest, null, 2) + '\n');
  }

  async readManifest(relDir: string): Promise<AnyManifest | undefined> {
    let m: AnyManifest;
    try {
      m = JSON.parse((await this.manifestText(relDir)) ?? '') as AnyManifest;
    } catch (e) {
      if (e instanceof ApplicationFailure) throw e; // the store unreachable is not "no backup"
      return undefined;
    }
    return needsReferenceFacts(m) ? withReferenceFacts(m, await this.readReferenceFacts(relDir)) : m;
  }

  async scanManifests(cloud?: string): Promise<AnyManifest[]> {
    const out: AnyManifest[] = [];
    for (const { manifest, files } of await scanTargetManifests(this.target, cloud)) {
      const dir = `clouds/${manifest.cloud}/${manifest.component}/${manifest.id}`;
      const hasFacts = files.some((f) => f.key === `${dir}/${FACTS_FILE}`);
      out.push(
        needsReferenceFacts(manifest) && hasFacts
          ? withReferenceFacts(manifest, await this.readReferenceFacts(dir))
          : manifest,
      );
    }
    return out;
  }

  async readReferenceFacts(relDir: string): Promise<ReferenceFacts | undefined> {
    try {
      return JSON.parse((await this.target.readText(`${relDir}/${FACTS_FILE}`)) ?? '') as ReferenceFacts;
    } catch (e) {
      if (e instanceof ApplicationFailure) throw e;
      return undefined;
    }
  }

  /** Writes facts.json unless one is there: the first reading stays the reference. */
  async writeReferenceFacts(relDir: string, facts: ReferenceFacts): Promise<boolean> {
    if (await this.readReferenceFacts(relDir)) return false;
    await this.target.putText(`${relDir}/${FACTS_FILE}`, JSON.stringify(facts, null, 2) + '\n');
    return true;
  }

  async writeVerification(relDir: string, record: VerificationRecord): Promise<string> {
    const key = `${relDir}/verifications/${record.verifiedAt.replace(/[:.]/g, '')}.json`;
    await this.target.putText(key, JSON.stringify(record, null, 2) + '\n');
    return key;
  }

  async readVerifications(relDir: string): Promise<VerificationRecord[]> {
    const keys = (await this.target.list(`${relDir}/verifications/`))
      .map((o) => o.key)
      .filter((k) => k.endsWith('.json'))
      .sort();
    const out: VerificationRecord[] = [];
    for (const k of keys) {
      try {
        out.push(JSON.parse((await this.target.readText(k)) ?? '') as VerificationRecord);
      } catch (e) {
        if (e instanceof ApplicationFailure) throw e; // a torn record is ignored, an unreachable store is not
      }
    }
    return out;
  }

  openArtifact(rel: string, signal?: AbortSignal): Promise<Readable> {
    return this.target.openRead(rel, signal);
  }

  hashArtifact(rel: string, signal?: AbortSignal): Promise<{ sha256: string; bytes: number }> {
    return hashObject(this.target, rel, undefined, signal);
  }
}
