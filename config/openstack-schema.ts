// A cloud's OpenStack API access and what its cloud-resource workflows select. Credentials are
// never inline: the section names a clouds.yaml (+ cloud) or an openrc file; with neither,
// the worker's OS_CLOUD or OS_* variables are used, as the openstack CLI would.
import { z } from 'zod';
import { absPath, nonEmpty } from './secret-ref.js';

const metadataFilter = z.record(z.string(), z.string());

export const openstackCloudSchema = z
  .object({
    /** A clouds.yaml (os-client-config format; a secure.yaml beside it is merged). Default: the os-client-config search path. */
    cloudsYaml: absPath.optional(),
    /** The cloud in clouds.yaml (default: OS_CLOUD). */
    cloud: nonEmpty.optional(),
    /** An admin-openrc.sh whose `export OS_*=…` lines are read (not executed). */
    openrc: absPath.optional(),
    /** Overrides region_name / OS_REGION_NAME. */
    region: nonEmpty.optional(),
    /** Which catalog endpoints to call (default: the credentials', else public). */
    interface: z.enum(['public', 'internal', 'admin']).optional(),
    requestTimeoutSeconds: z.number().int().positive().default(60),
    volumes: z
      .object({
        /** Volumes snapshotted at once (activity fan-out within one workflow). */
        concurrency: z.number().int().min(1).max(64).default(8),
        /** Statuses selected (the seed's `--status in-use`). */
        statuses: z.array(nonEmpty).min(1).default(['in-use']),
        /** Only volumes of this project (default: every project the credentials see with all_tenants). */
        projectId: nonEmpty.optional(),
        /** Only volumes carrying all these metadata key/values. */
        metadata: metadataFilter.optional(),
        /** A snapshot still `creating` after this long is reported as stuck (the others go on). */
        stuckAfterMinutes: z.number().positive().default(30),
        /** Also make a (full) Cinder backup of each snapshot (needs cinder-backup), marked like the snapshot. */
        cinderBackup: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    images: z
      .object({
        concurrency: z.number().int().min(1).max(16).default(2),
        visibility: z.enum(['public', 'private', 'shared', 'community']).optional(),
        tag: nonEmpty.optional(),
        name: nonEmpty.optional(),
      })
      .strict()
      .prefault({}),
    /** Cloud-side retention of osbackup's own snapshots, backups and instance images (`rotate`). */
    retention: z
      .object({
        /** Newest copies kept per volume / server, whatever their age. */
        keepLast: z.number().int().min(1).default(7),
        /** Copies younger than this are kept too. */
        keepDays: z.number().min(0).default(7),
        /** Image exports in the repository outlive their Glance image by this many days. */
        imageExportDaysAfterDeleted: z.number().min(0).default(30),
      })
      .strict()
      .prefault({}),
    instances: z
      .object({
        concurrency: z.number().int().min(1).max(32).default(4),
        /** Only servers with this name (Nova's name filter is a regular expression). */
        name: nonEmpty.optional(),
        stuckAfterMinutes: z.number().positive().default(30),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .refine((o) => !(o.openrc && (o.cloudsYaml || o.cloud)), {
    message: 'name either openrc or cloudsYaml/cloud, not both',
  });
export type OpenstackCloudConfig = z.infer<typeof openstackCloudSchema>;
