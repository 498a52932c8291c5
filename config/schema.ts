// The osbackup configuration file: one YAML document, validated here with zod.
// Secrets are *references* (a file path or an environment variable name); values are
// resolved only inside activities, never put in workflow inputs or on a command line.
import { z } from 'zod';
import { escrowSchema } from './escrow-schema.js';
import { drillCrossReferenceProblems, drillSchema } from './drill-schema.js';
import { metricsSchema } from './metrics-schema.js';
import { reportSchema } from './report-schema.js';
import { binlogCompactionFields } from './pitr-compaction-schema.js';
import { schedulesSchema } from './schedule-schema.js';
import { rabbitmqCloudSchema, rabbitmqCrossReferenceProblems, rabbitmqHostSchema } from './rabbitmq-schema.js';

import { absPath, nonEmpty, secretRefSchema } from './secret-ref.js';
import { bootstrapCommandSchema } from './galera-restore-schema.js';
import { openstackCloudSchema } from './openstack-schema.js';
import { drSchema } from './dr-schema.js';
import { targetCrossReferenceProblems, targetNameSchema, targetsSchema, tiersSchema } from './targets-schema.js';
import { repositorySchema, s3RepositoryProblems } from './repository-schema.js';

export { secretRefSchema, type SecretRef } from './secret-ref.js';
export { repositorySchema, rereadAfterWrite, type RepositoryConfig } from './repository-schema.js';

const fingerprint = z
  .string()
  .regex(
    /^SHA256:[A-Za-z0-9+/]{43}$/,
    'must be an OpenSSH SHA256 fingerprint such as "SHA256:abc…" (ssh-keygen -lf <host key>.pub)',
  );

const commandArgv = z.array(nonEmpty).min(1, 'must name a command');

export const mariadbHostSchema = z
  .object({
    /** Option file on the host that tells mariadb/mariabackup where the server is (socket, datadir). */
    defaultsFile: absPath.optional(),
    /** Data directory of the server on that host (restore target). */
    datadir: absPath,
    /** Owner the restored files must have (the server's user), e.g. "mysql:mysql" or "42434:42434". */
    owner: nonEmpty.optional(),
    /** How to stop / start the server on this host (systemctl, docker stop/start, a lab script). */
    stopCommand: commandArgv,
    startCommand: commandArgv,
    bootstrapCommand: bootstrapCommandSchema,
    /**
     * Option file on the host with an account that may write every schema, used to replay
     * binary logs in a point-in-time restore. Unset: defaultsFile alone (the lab's and a
     * stock install's root over the socket).
     */
    replayDefaultsFile: absPath.optional(),
    /** Scratch folder on the host for restores (extracted + prepared backup). */
    restoreDir: absPath.default('/var/tmp/osbackup-restore'),
  })
  .strict();

/** Where a Keystone host keeps its keys: <keysDir>/fernet-keys and <keysDir>/credential-keys. */
export const keystoneHostSchema = z
  .object({
    /** The keystone container on Kolla hosts (containerRuntime docker/podman). */
    container: nonEmpty.default('keystone'),
    keysDir: absPath.default('/etc/keystone'),
    /** Numeric "uid:gid" the restored keys get on this host (Kolla: 42425:42425). Unset: the owner recorded in the backup. */
    owner: z
      .string()
      .regex(/^\d+:\d+$/, 'must be numeric "uid:gid", e.g. "42425:42425"')
      .optional(),
  })
  .strict();

export const hostSchema = z
  .object({
    address: nonEmpty,
    port: z.number().int().min(1).max(65535).default(22),
    user: nonEmpty.default('root'),
    keyFile: absPath,
    hostKeyFingerprint: fingerprint,
    containerRuntime: z.enum(['docker', 'podman', 'none']).default('none'),
    containers: z
      .object({ mariadb: nonEmpty.default('mariadb') })
      .strict()
      .default({ mariadb: 'mariadb' }),
    mariadb: mariadbHostSchema.optional(),
    keystone: keystoneHostSchema.optional(),
    rabbitmq: rabbitmqHostSchema.optional(),
  })
  .strict();
export type HostConfig = z.infer<typeof hostSchema>;

/** Continuous binary-log archiving (pitrArchiveWorkflow) and point-in-time restore. */
export const binlogArchiveSchema = z
  .object({
    /** New events of the active log are cut into a segment at least this often. */
    segmentSeconds: z.number().min(1).max(3600).default(5),
    /** The recovery point objective: the achieved RPO is reported against it. */
    rpoTargetSeconds: z.number().min(1).default(60),
    /** Upper bound of one segment (a busy log is cut into several). */
    maxSegmentMiB: z.number().int().min(1).max(1024).default(64),
    compressionLevel: z.number().int().min(1).max(19).default(3),
    ...binlogCompactionFields,
  })
  .strict();

/**
 * The database is a Galera cluster: backups read from a healthy, Synced node that is not the
 * writer, desynced for the duration (wsrep_desync), and fall over to another node if it fails.
 */
export const galeraSchema = z
  .object({
    /** Every node of the cluster (keys of `hosts`, each with a mariadb section). */
    nodes: z.array(nonEmpty).min(2, 'a cluster has at least two nodes'),
    /** The node the cloud writes to (Kolla: haproxy's active backend). Unset: the node whose wsrep_local_commits grow while sampled. */
    writer: nonEmpty.optional(),
    /** Nodes tried first as the donor, in order; the others follow in `nodes` order, the writer last. */
    prefer: z.array(nonEmpty).default([]),
    /** Seconds wsrep_local_commits are watched to find the writer when none is configured (0: not watched). */
    writeSampleSeconds: z.number().min(0).max(30).default(2),
    /** Seconds the donor's receive queue may take to drain before wsrep_desync goes OFF regardless. */
    drainTimeoutSeconds: z.number().int().min(1).max(90).default(60),
  })
  .strict();

/** Logical dumps (logicalDumpWorkflow, `osbackup backup dump`): SQL per schema from one snapshot. */
export const dumpsSchema = z
  .object({
    /** Schemas to dump when the command names none. Unset or empty: every schema outside mysql, information_schema, performance_schema and sys. */
    schemas: z
      .array(z.string().regex(/^[A-Za-z0-9_$]{1,64}$/, 'must be a schema name (letters, digits, "_", "$")'))
      .default([]),
    compressionLevel: z.number().int().min(1).max(19).default(6),
  })
  .strict();

export const databaseSchema = z
  .object({
    /** Host (a key of `hosts`) whose MariaDB is backed up. */
    host: nonEmpty,
    user: nonEmpty,
    password: secretRefSchema,
    /** Tables whose row count and CHECKSUM TABLE are recorded and verified ("schema.table"). Empty = every base table outside the system schemas. */
    verifyTables: z.array(z.string().regex(/^[A-Za-z0-9_$]+\.[A-Za-z0-9_$]+$/, 'must be "schema.table"')).default([]),
    /**
     * Where the row counts and CHECKSUM TABLE a restore is compared with come from. `backup`: the
     * backup only lists the tables (information_schema; no row of the live server is read) and the
     * first verified restore of it, off the controller, reads them from the restored data (exact at
     * the backup's LSN) and keeps them beside the manifest for every later restore. `live`: read
     * on the live server before and after the stream (two full scans of every table).
     */
    facts: z.enum(['backup', 'live']).default('backup'),
    compressionLevel: z.number().int().min(1).max(19).default(3),
    /** Where zstd runs: on the database host (fewer bytes over SSH; the host needs zstd) or on the worker. Restores decompress on the target likewise. */
    compressOn: z.enum(['source', 'worker']).default('source'),
    /** `backup db --incremental` with no valid base: take a full backup instead of failing. */
    autoFull: z.boolean().default(false),
    /** Seconds mariabackup waits for long queries before its lock (--ftwrl-wait-timeout); unset = mariabackup's default. */
    ftwrlWaitTimeout: z.number().int().min(1).optional(),
    /** Seconds a query must have run to count as blocking for ftwrlWaitTimeout (--ftwrl-wait-threshold; mariabackup's default 60). */
    ftwrlWaitThreshold: z.number().int().min(1).optional(),
    binlog: binlogArchiveSchema.prefault({}),
    galera: galeraSchema.optional(),
    dumps: dumpsSchema.default({ schemas: [], compressionLevel: 6 }),
  })
  .strict();

const relPath = nonEmpty.refine(
  (p) => !p.startsWith('/') && !p.split('/').includes('..'),
  'must be a path inside the folder (no leading "/", no "..")',
);

export const controlPlaneSchema = z
  .object({
    kolla: z
      .object({
        /** The deploy host that holds the Kolla-Ansible tree. */
        host: nonEmpty,
        configDir: absPath.default('/etc/kolla'),
        /** Files and folders under configDir (missing ones are noted and skipped). */
        files: z
          .array(relPath)
          .default([
            'globals.yml',
            'passwords.yml',
            'inventory',
            'multinode',
            'all-in-one',
            'admin-openrc.sh',
            'config',
          ]),
        /** Per-service override folders under configDir (the seed's list). */
        serviceDirs: z
          .array(relPath)
          .default(['keystone', 'nova', 'neutron', 'cinder', 'glance', 'swift', 'heat', 'horizon']),
        /** More paths whose content a diff must never show (passwords.yml, openrc files and keys always are). */
        secretPaths: z.array(relPath).default([]),
      })
      .strict()
      .optional(),
    /** Every host that runs Keystone: their keys must be identical. */
    keystoneHosts: z.array(nonEmpty).default([]),
    compressionLevel: z.number().int().min(1).max(19).default(9),
  })
  .strict();

const schemaName = z.string().regex(/^[A-Za-z0-9_$]+$/, 'a schema name: letters, digits, "_" and "$"');

/**
 * One OpenStack service whose database can be restored alone (`osbackup restore service`):
 * its schemas, and the commands that make the service use the restored data.
 */
export const serviceSchema = z
  .object({
    /** The service's schemas (nova: nova, nova_api, nova_cell0). */
    schemas: z.array(schemaName).min(1, 'must name at least one schema'),
    /** Run after the import (Kolla: kolla-ansible -i <inventory> deploy --tags nova). Unset: nothing is redeployed. */
    redeploy: commandArgv.optional(),
    /** Run after the redeploy; a non-zero exit fails the restore and names the safety dump. */
    check: commandArgv.optional(),
    /** Where the commands run: a host of this cloud (over SSH) or "worker" (the Kolla deploy host is often the worker's). */
    runOn: nonEmpty.default('worker'),
  })
  .strict();

/** The scratch MariaDB a single-service restore prepares the backup in, when no logical dump fits. */
export const serviceRestoreSchema = z
  .object({
    /** Host (with `mariadb`, mariadbd installed outside any container) that runs the scratch instance under its restoreDir. */
    scratchHost: nonEmpty,
  })
  .strict();

export const cloudSchema = z
  .object({
    hosts: z.record(
      z.string().regex(/^[A-Za-z0-9_.-]+$/, 'host names are letters, digits, "_", "." and "-"'),
      hostSchema,
    ),
    database: databaseSchema,
    /**
     * The task queue of this cloud's runs and activities (default temporal.taskQueue): give a
     * cloud whose hosts only one site's worker reaches a queue of its own, and that worker
     * `worker.clouds` (config/task-queues.ts).
     */
    taskQueue: nonEmpty.optional(),
    controlPlane: controlPlaneSchema.optional(),
    rabbitmq: rabbitmqCloudSchema.optional(),
    /** OpenStack API access (volumes, images, instances); absent = this cloud's resources are not handled. */
    openstack: openstackCloudSchema.optional(),
    /** The full rebuild's deploy commands (config/dr-schema.ts, `osbackup dr rebuild`). */
    dr: drSchema.optional(),
    tiers: tiersSchema,
    /** Hours an approval gate (restore service, restore cluster, dr rebuild) waits for a decision before the run ends as rejected. */
    approvalTimeoutHours: z
      .number()
      .positive()
      .max(24 * 30)
      .default(24),
    /** Services whose schemas `osbackup restore service` restores alone. */
    services: z
      .record(
        z.string().regex(/^[A-Za-z0-9_.-]+$/, 'service names are letters, digits, "_", "." and "-"'),
        serviceSchema,
      )
      .default({}),
    serviceRestore: serviceRestoreSchema.optional(),
    /** DR drills (`osbackup dr drill`, monthly): restore the newest VERIFIED point onto an isolated host, measure RTO/RPO. */
    drill: drillSchema.optional(),
    /** When each tier runs (Temporal Schedules, `osbackup schedules apply`); absent = the seed's times in UTC. */
    schedules: schedulesSchema.prefault({}),
    report: reportSchema.prefault({}),
    /** `osbackup preflight`, the gate CI runs before an upgrade; the CLI's flags override these. */
    preflight: z
      .object({
        /** The restore point must be younger than this. */
        maxAgeMinutes: z.number().int().positive().default(60),
        /** The gate gives up (exit "backup failed") when its backups have not finished by then. */
        timeoutMinutes: z.number().positive().default(60),
        /** With --prove: the host the new backup is restored onto (it must not be the live database host). */
        proveOn: z.string().optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/**
 * Cross-references between sections. Checked on the raw document, separately from the
 * schema, so they are reported even when other parts of the file are wrong too.
 */
export function crossReferenceProblems(raw: unknown): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  const clouds = (raw as { clouds?: unknown })?.clouds;
  if (!clouds || typeof clouds !== 'object') return out;
  const def = (raw as { defaultCloud?: unknown }).defaultCloud;
  if (typeof def === 'string' && !(def in clouds))
    out.push({
      path: 'defaultCloud',
      message: `names cloud "${def}", which is not under clouds (${Object.keys(clouds).join(', ')})`,
    });
  const served = (raw as { worker?: { clouds?: unknown } }).worker?.clouds;
  if (Array.isArray(served))
    served.forEach((c, i) => {
      if (typeof c === 'string' && !(c in clouds))
        out.push({
          path: `worker.clouds.${i}`,
          message: `names cloud "${c}", which is not under clouds (${Object.keys(clouds).join(', ')})`,
        });
    });
  for (const [name, cloud] of Object.entries(clouds as Record<string, unknown>)) {
    const c = cloud as {
      hosts?: Record<string, unknown>;
      database?: { host?: unknown };
      preflight?: { proveOn?: unknown };
    } | null;
    const dbHost = c?.database?.host;
    if (typeof dbHost !== 'string') continue;
    const hosts = c?.hosts && typeof c.hosts === 'object' ? c.hosts : {};
    const proveOn = c?.preflight?.proveOn;
    if (typeof proveOn === 'string') {
      const p = hosts[proveOn] as { mariadb?: unknown } | undefined;
      if (!p)
        out.push({
          path: `clouds.${name}.preflight.proveOn`,
          message: `names host "${proveOn}", which is not under hosts (${Object.keys(hosts).join(', ') || 'none'})`,
        });
      else if (proveOn === dbHost)
        out.push({
          path: `clouds.${name}.preflight.proveOn`,
          message: `is the live database host "${dbHost}": the proof restore would overwrite the cloud's database; name a scratch host`,
        });
      else if (!p.mariadb)
        out.push({
          path: `clouds.${name}.hosts.${proveOn}.mariadb`,
          message: 'is required on the preflight proof host',
        });
    }
    const h = hosts[dbHost] as { mariadb?: unknown } | undefined;
    if (!h)
      out.push({
        path: `clouds.${name}.database.host`,
        message: `names host "${dbHost}", which is not under hosts (${Object.keys(hosts).join(', ') || 'none'})`,
      });
    else if (!h.mariadb)
      out.push({ path: `clouds.${name}.hosts.${dbHost}.mariadb`, message: 'is required on the database host' });
    const g = (c?.database as { galera?: { nodes?: unknown; writer?: unknown; prefer?: unknown } } | undefined)?.galera;
    const named = [
      ...(Array.isArray(g?.nodes) ? g.nodes.map((n, i) => [`nodes.${i}`, n] as const) : []),
      ...(typeof g?.writer === 'string' ? [['writer', g.writer] as const] : []),
      ...(Array.isArray(g?.prefer) ? g.prefer.map((n, i) => [`prefer.${i}`, n] as const) : []),
    ];
    for (const [where, n] of named) {
      if (typeof n !== 'string') continue;
      const node = hosts[n] as { mariadb?: unknown } | undefined;
      if (!node)
        out.push({
          path: `clouds.${name}.database.galera.${where}`,
          message: `names host "${n}", which is not under hosts (${Object.keys(hosts).join(', ') || 'none'})`,
        });
      else if (!node.mariadb)
        out.push({ path: `clouds.${name}.hosts.${n}.mariadb`, message: 'is required on a Galera node' });
    }
  }
  for (const [name, cloud] of Object.entries(clouds as Record<string, unknown>)) {
    const c = cloud as {
      hosts?: Record<string, { keystone?: unknown } | undefined>;
      controlPlane?: { kolla?: { host?: unknown }; keystoneHosts?: unknown };
    } | null;
    const hosts = c?.hosts && typeof c.hosts === 'object' ? c.hosts : {};
    const known = Object.keys(hosts).join(', ') || 'none';
    const kh = c?.controlPlane?.kolla?.host;
    if (typeof kh === 'string' && !hosts[kh])
      out.push({
        path: `clouds.${name}.controlPlane.kolla.host`,
        message: `names host "${kh}", which is not under hosts (${known})`,
      });
    const ks = c?.controlPlane?.keystoneHosts;
    if (Array.isArray(ks)) {
      ks.forEach((k, i) => {
        if (typeof k !== 'string') return;
        if (!hosts[k])
          out.push({
            path: `clouds.${name}.controlPlane.keystoneHosts.${i}`,
            message: `names host "${k}", which is not under hosts (${known})`,
          });
        else if (!hosts[k]!.keystone)
          out.push({
            path: `clouds.${name}.hosts.${k}.keystone`,
            message: 'is required on a Keystone host (use `keystone: {}` for the Kolla defaults)',
          });
      });
    }
  }
  for (const [name, cloud] of Object.entries(clouds as Record<string, unknown>)) {
    const c = cloud as {
      hosts?: Record<string, { mariadb?: unknown } | undefined>;
      services?: Record<string, { runOn?: unknown } | undefined>;
      serviceRestore?: { scratchHost?: unknown };
    } | null;
    const hosts = c?.hosts && typeof c.hosts === 'object' ? c.hosts : {};
    const known = Object.keys(hosts).join(', ') || 'none';
    for (const [svc, s] of Object.entries(c?.services ?? {})) {
      const on = s?.runOn;
      if (typeof on === 'string' && on !== 'worker' && !hosts[on])
        out.push({
          path: `clouds.${name}.services.${svc}.runOn`,
          message: `names host "${on}", which is not under hosts (${known}); use a host or "worker"`,
        });
    }
    const sh = c?.serviceRestore?.scratchHost;
    if (typeof sh === 'string') {
      if (!hosts[sh])
        out.push({
          path: `clouds.${name}.serviceRestore.scratchHost`,
          message: `names host "${sh}", which is not under hosts (${known})`,
        });
      else if (!hosts[sh]!.mariadb)
        out.push({
          path: `clouds.${name}.hosts.${sh}.mariadb`,
          message: 'is required on the scratch host (its restoreDir holds the scratch instance)',
        });
    }
  }
  out.push(...rabbitmqCrossReferenceProblems(raw));
  out.push(...targetCrossReferenceProblems(raw));
  out.push(...drillCrossReferenceProblems(raw));
  out.push(...s3RepositoryProblems(raw));
  return out;
}

export type CloudConfig = z.infer<typeof cloudSchema>;

export const encryptionSchema = z
  .object({
    passphrase: secretRefSchema.optional(),
    /** ASCII-armored or binary OpenPGP public keys; any one of their secret keys can decrypt. */
    recipientKeyFiles: z.array(absPath).default([]),
    /** Copies of the decryption keys kept outside the cloud; `osbackup keys check` proves they open recent artifacts. */
    escrow: escrowSchema,
  })
  .strict()
  .refine(
    (e) => e.passphrase !== undefined || e.recipientKeyFiles.length > 0,
    'needs a passphrase and/or recipientKeyFiles: artifacts are never stored unencrypted',
  );

export const temporalSchema = z
  .object({
    address: nonEmpty.default('127.0.0.1:7233'),
    namespace: nonEmpty.default('osbackup'),
    taskQueue: nonEmpty.default('osbackup'),
    uiUrl: z.url().default('http://127.0.0.1:8233'),
    tls: z
      .object({
        serverRootCaFile: absPath.optional(),
        clientCertFile: absPath.optional(),
        clientKeyFile: absPath.optional(),
        serverName: nonEmpty.optional(),
      })
      .strict()
      .refine(
        (t) => (t.clientCertFile === undefined) === (t.clientKeyFile === undefined),
        'clientCertFile and clientKeyFile go together (mutual TLS needs the certificate and its key)',
      )
      .optional(),
    apiKey: secretRefSchema.optional(),
    /**
     * 32-byte key (hex or base64 in the file) for the payload codec that encrypts Temporal
     * history: a key ring of one, its id the key's fingerprint.
     */
    payloadKey: secretRefSchema.optional(),
    /**
     * The payload key ring: the first key encrypts, every key decrypts what was written under it
     * (each payload names its key's id). Rotation adds the new key first and keeps the old ones
     * until nothing in Temporal still needs them. Without `id` a key's id is its fingerprint,
     * which is what a single payloadKey writes.
     */
    payloadKeys: z
      .array(
        z
          .object({
            id: z
              .string()
              .regex(
                /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/,
                'a key id is 1-64 letters, digits, ".", "_", ":" or "-" (it is written into every payload)',
              )
              .optional(),
            key: secretRefSchema,
          })
          .strict(),
      )
      .min(1, 'list at least one key (the first encrypts)')
      .optional(),
    /**
     * Without payloadKey(s), workflow inputs, results and failures are stored in Temporal's
     * history in clear. `config check` refuses that unless this says it is deliberate.
     */
    allowUnencryptedPayloads: z.boolean().default(false),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.payloadKey && t.payloadKeys)
      ctx.addIssue({
        code: 'custom',
        path: ['payloadKeys'],
        message:
          'payloadKey and payloadKeys together: use one. Fix: move the payloadKey into payloadKeys (without an id it keeps the id its payloads carry)',
      });
    const seen = new Set<string>();
    t.payloadKeys?.forEach((k, i) => {
      if (k.id === undefined) return;
      if (seen.has(k.id))
        ctx.addIssue({
          code: 'custom',
          path: ['payloadKeys', i, 'id'],
          message: `the id ${k.id} is used twice: each key needs its own`,
        });
      seen.add(k.id);
    });
  });

export const workerSchema = z
  .object({
    /**
     * On SIGTERM the worker stops taking work and lets running activities finish for this long;
     * then it cancels them (each discards its staging, nothing is published half) and their runs
     * go on when a worker polls again. A service manager's stop timeout must be longer.
     */
    shutdownGraceSeconds: z
      .number()
      .int()
      .min(0)
      .max(24 * 3600)
      .default(600),
    /**
     * The clouds this worker serves (default: every cloud, and the default queue): it polls
     * their task queues only. `osbackup worker --cloud` overrides it.
     */
    clouds: z.array(z.string()).min(1).optional(),
  })
  .strict();

export const configSchema = z
  .object({
    temporal: temporalSchema.default(temporalSchema.parse({})),
    repository: repositorySchema,
    targets: targetsSchema,
    encryption: encryptionSchema,
    /** The cloud CLI commands act on when --cloud is not given and there are several. */
    defaultCloud: z.string().optional(),
    /** Worker-local folder for state (gpg home, scratch). */
    stateDir: absPath.default('/var/lib/osbackup'),
    /** How the worker process behaves (`osbackup worker`). */
    worker: workerSchema.default(workerSchema.parse({})),
    /** The worker's GET /metrics (config/metrics-schema.ts); absent = no listener. */
    metrics: metricsSchema.optional(),
    clouds: z
      .record(
        z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'cloud names are lower-case letters, digits, "_" and "-"'),
        cloudSchema,
      )
      .refine((c) => Object.keys(c).length > 0, 'must define at least one cloud'),
  })
  .strict();
export type Config = z.infer<typeof configSchema>;
