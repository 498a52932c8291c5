// The repository: the primary target every backup streams into. A folder (local disk or an NFS
// mount) unless `type: s3` says it is a bucket; then the bucket takes an S3 target's settings
// (config/s3-target-schema.ts) and backups stream into multipart uploads with no copy on the
// worker's disk (docs/s3-repository.md).
//
//   repository: { path: /var/backups/osbackup }                       # a folder (the default)
//   repository: { type: s3, endpoint: http://swift:8080, bucket: osbackup-primary,
//                 accessKeyId: { file: … }, secretAccessKey: { file: … } }
//
// What an S3 repository holds so far: full and incremental MariaDB backups (Galera donors too),
// their restores, verify, retention, copies and the catalog. Sections that make other artifact
// kinds (control plane, OpenStack resources, drills, DR, single-service restores) are refused at
// config check (s3RepositoryProblems); the kinds without a section of their own (logical dumps,
// binary-log archiving, imports, `keys check`) fail when started, naming the same limitation.
import { z } from 'zod';
import { retentionPolicySchema } from '../core/retention/policy.js';
import { absPath } from './secret-ref.js';
import { s3TargetSchema } from './s3-target-schema.js';
import { targetNameSchema } from './targets-schema.js';

const common = {
  /** The repository's name as a target (tiers, copies, retention, verify name it). */
  name: targetNameSchema.default('local'),
  retention: retentionPolicySchema.default(retentionPolicySchema.parse({})),
  capacityGiB: z.number().positive().optional(),
};

export const localRepositorySchema = z
  .object({
    type: z.literal('local'),
    /** Local disk (or NFS-mounted) folder that holds the artifacts and manifests. */
    path: absPath,
    /** Set when the repository is on an NFS share: backups are refused unless this is a mount point. */
    mountPoint: absPath.optional(),
    /**
     * Re-read every published artifact and compare its SHA-256 before publishing the manifest.
     * Unset: only when the repository is a network share (`mountPoint` set); on a local disk the
     * SHA-256 computed while the bytes were written is the artifact's hash.
     */
    verifyAfterWrite: z.boolean().optional(),
    ...common,
  })
  .strict();

export const s3RepositorySchema = s3TargetSchema
  .extend({
    type: z.literal('s3'),
    /**
     * Re-read every uploaded artifact and compare its SHA-256 before publishing the manifest.
     * Unset or false: the object's size and ETag (HEAD) are compared with the size and the
     * multipart ETag (MD5 of the parts' MD5s) the worker computed from the bytes it sent — the
     * store's own digest of what it received. Set it for stores whose ETag is not an MD5
     * (AWS SSE-KMS, SSE-C): a re-read costs a second transfer of every artifact.
     */
    verifyAfterWrite: z.boolean().optional(),
    ...common,
  })
  .strict();

/** A repository without `type` is a folder: configs written before S3 repositories stay valid. */
export const repositorySchema = z.preprocess(
  (v) => (v && typeof v === 'object' && !Array.isArray(v) && !('type' in v) ? { ...v, type: 'local' } : v),
  z.discriminatedUnion('type', [localRepositorySchema, s3RepositorySchema]),
);
export type RepositoryConfig = z.infer<typeof repositorySchema>;
export type LocalRepositoryConfig = z.infer<typeof localRepositorySchema>;
export type S3RepositoryConfig = z.infer<typeof s3RepositorySchema>;

/** Whether a published folder artifact is re-read: as configured, else only on a network share. */
export function rereadAfterWrite(repository: { verifyAfterWrite?: boolean; mountPoint?: string }): boolean {
  return repository.verifyAfterWrite ?? repository.mountPoint !== undefined;
}

/** What an S3 repository does not hold yet, for messages and docs. */
export const S3_REPOSITORY_LIMITATION =
  'an S3 repository (repository.type: s3) holds full and incremental database backups only so far (their restores, verify, retention, copies and the catalog work from it)';

/** Sections of a cloud that make artifacts an S3 repository cannot hold, with what they make. */
const UNSUPPORTED_SECTIONS: [key: string, what: string][] = [
  ['controlPlane', 'control-plane backups (Kolla config, Keystone keys)'],
  ['rabbitmq', 'RabbitMQ definition backups (control-plane backups)'],
  ['openstack', 'OpenStack resource backups (image exports, volume and instance records)'],
  ['drill', 'DR drills (their records are written into the repository folder)'],
  ['dr', 'the full rebuild (`osbackup dr rebuild`)'],
  ['serviceRestore', 'single-service restores (`osbackup restore service`)'],
];

/**
 * Refuses, at config check, the sections that would make artifacts an S3 repository cannot hold
 * yet: better a clear error now than a backup that fails at night.
 */
export function s3RepositoryProblems(raw: unknown): { path: string; message: string }[] {
  const r = raw as { repository?: { type?: unknown }; clouds?: unknown } | null;
  if (r?.repository?.type !== 's3') return [];
  const out: { path: string; message: string }[] = [];
  const fix =
    'remove the section, or keep the repository on a folder (repository.path) and add the bucket as a copy target under `targets`';
  const clouds = r.clouds && typeof r.clouds === 'object' ? (r.clouds as Record<string, unknown>) : {};
  for (const [name, cloud] of Object.entries(clouds)) {
    const c = (cloud ?? {}) as Record<string, unknown>;
    for (const [key, what] of UNSUPPORTED_SECTIONS)
      if (c[key] !== undefined)
        out.push({
          path: `clouds.${name}.${key}`,
          message: `makes ${what}, which ${S3_REPOSITORY_LIMITATION}. Fix: ${fix}`,
        });
    const services = c.services;
    if (services && typeof services === 'object' && Object.keys(services).length > 0)
      out.push({
        path: `clouds.${name}.services`,
        message: `single-service restores read logical dumps, which ${S3_REPOSITORY_LIMITATION}. Fix: ${fix}`,
      });
    const dump = (c.schedules as { entries?: { dump?: { enabled?: unknown } } } | undefined)?.entries?.dump;
    if (dump?.enabled === true)
      out.push({
        path: `clouds.${name}.schedules.entries.dump.enabled`,
        message: `schedules logical dumps, which ${S3_REPOSITORY_LIMITATION}. Fix: ${fix}`,
      });
  }
  return out;
}
