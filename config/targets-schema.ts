// Storage targets: where artifacts live. The repository (`repository.path`) is the primary
// target — backups stream into it — and is named `repository.name` ("local" unless set).
// `targets` adds copies: another folder, an NFS mount, an S3 / Swift bucket. Tiers name the
// targets their artifacts must reach (clouds.<c>.tiers), and each target has its own retention.
//
//   targets:
//     nfs:   { type: nfs, path: /mnt/backup/osbackup, mountPoint: /mnt/backup }
//     swift: { type: s3, endpoint: http://swift:8080, bucket: osbackup, accessKeyId: {file: …}, secretAccessKey: {file: …},
//              retention: { daily: 0, weekly: 0, monthly: 12 } }
import { z } from 'zod';
import { retentionPolicySchema } from '../core/retention/policy.js';
import { absPath } from './secret-ref.js';
import { s3TargetSchema } from './s3-target-schema.js';

export const targetNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]*$/, 'target names are lower-case letters, digits, "_" and "-"');

const common = {
  retention: retentionPolicySchema.default(retentionPolicySchema.parse({})),
  /** Size the target may use (GiB), for `osbackup capacity`; unset: the filesystem's size (folders) or unknown (S3). */
  capacityGiB: z.number().positive().optional(),
};

const localTargetSchema = z.object({ type: z.literal('local'), path: absPath, ...common }).strict();

const nfsTargetSchema = z
  .object({
    type: z.literal('nfs'),
    path: absPath,
    /**
     * Where the share is mounted. Writing is refused unless this is a mount point: an
     * unmounted share leaves an empty local folder that would silently fill the root disk.
     */
    mountPoint: absPath,
    ...common,
  })
  .strict()
  .refine((t) => t.path === t.mountPoint || t.path.startsWith(t.mountPoint.replace(/\/$/, '') + '/'), {
    message: 'path must be the mount point or a folder under it',
    path: ['path'],
  });

const s3Schema = s3TargetSchema.extend({ type: z.literal('s3'), ...common }).strict();

export const targetSchema = z.discriminatedUnion('type', [localTargetSchema, nfsTargetSchema, s3Schema]);
export type TargetConfig = z.infer<typeof targetSchema>;

export const targetsSchema = z.record(targetNameSchema, targetSchema).default({});

export const TIERS = ['daily', 'weekly', 'monthly'] as const;
export type Tier = (typeof TIERS)[number];

/** Which targets each tier's artifacts must reach. Unset tiers keep their artifacts on the repository only. */
export const tiersSchema = z
  .object({
    daily: z
      .object({ targets: z.array(targetNameSchema).min(1) })
      .strict()
      .optional(),
    weekly: z
      .object({ targets: z.array(targetNameSchema).min(1) })
      .strict()
      .optional(),
    monthly: z
      .object({ targets: z.array(targetNameSchema).min(1) })
      .strict()
      .optional(),
  })
  .strict()
  .default({});

/** Tier and target names that point nowhere, reported with their paths. */
export function targetCrossReferenceProblems(raw: unknown): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  const r = raw as { repository?: { name?: unknown }; targets?: unknown; clouds?: unknown } | null;
  const primary = typeof r?.repository?.name === 'string' ? r.repository.name : 'local';
  const targets = r?.targets && typeof r.targets === 'object' ? Object.keys(r.targets) : [];
  if (targets.includes(primary))
    out.push({
      path: `targets.${primary}`,
      message: `"${primary}" is the repository's name (repository.name): give this target another name`,
    });
  const known = [primary, ...targets];
  const clouds =
    r?.clouds && typeof r.clouds === 'object'
      ? (r.clouds as Record<string, { tiers?: Record<string, { targets?: unknown } | undefined> } | null>)
      : {};
  for (const [cloud, c] of Object.entries(clouds)) {
    for (const [tier, t] of Object.entries(c?.tiers ?? {})) {
      if (!Array.isArray(t?.targets)) continue;
      t.targets.forEach((name: unknown, i: number) => {
        if (typeof name === 'string' && !known.includes(name))
          out.push({
            path: `clouds.${cloud}.tiers.${tier}.targets.${i}`,
            message: `names target "${name}", which is neither the repository nor under targets (${known.join(', ')})`,
          });
      });
    }
  }
  return out;
}
