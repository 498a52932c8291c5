// The osbackup configuration file: one YAML document, validated here with zod.
// Secrets are *references* (a file path or an environment variable name); values are
// resolved only inside activities, never put in workflow inputs or on a command line.
import { z } from 'zod';

const nonEmpty = z.string().min(1, 'must not be empty');
const absPath = nonEmpty.refine((p) => p.startsWith('/'), 'must be an absolute path');

/** A secret is given by reference: exactly one of `file` or `env`. */
export const secretRefSchema = z
  .object({ file: absPath.optional(), env: nonEmpty.optional() })
  .strict()
  .refine((s) => (s.file === undefined) !== (s.env === undefined), 'give exactly one of `file` or `env`');
export type SecretRef = z.infer<typeof secretRefSchema>;

const fingerprint = z
  .string()
  .regex(/^SHA256:[A-Za-z0-9+/]{43}$/, 'must be an OpenSSH SHA256 fingerprint such as "SHA256:abc…" (ssh-keygen -lf <host key>.pub)');

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
    /** Scratch folder on the host for restores (extracted + prepared backup). */
    restoreDir: absPath.default('/var/tmp/osbackup-restore'),
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
    containers: z.object({ mariadb: nonEmpty.default('mariadb') }).strict().default({ mariadb: 'mariadb' }),
    mariadb: mariadbHostSchema.optional(),
  })
  .strict();
export type HostConfig = z.infer<typeof hostSchema>;

export const databaseSchema = z
  .object({
    /** Host (a key of `hosts`) whose MariaDB is backed up. */
    host: nonEmpty,
    user: nonEmpty,
    password: secretRefSchema,
    /** Tables whose row count and CHECKSUM TABLE are recorded and verified ("schema.table"). Empty = every base table outside the system schemas. */
    verifyTables: z.array(z.string().regex(/^[A-Za-z0-9_$]+\.[A-Za-z0-9_$]+$/, 'must be "schema.table"')).default([]),
    compressionLevel: z.number().int().min(1).max(19).default(3),
    /** `backup db --incremental` with no valid base: take a full backup instead of failing. */
    autoFull: z.boolean().default(false),
    /** Seconds mariabackup waits for long queries before its lock (--ftwrl-wait-timeout); unset = mariabackup's default. */
    ftwrlWaitTimeout: z.number().int().min(1).optional(),
    /** Seconds a query must have run to count as blocking for ftwrlWaitTimeout (--ftwrl-wait-threshold; mariabackup's default 60). */
    ftwrlWaitThreshold: z.number().int().min(1).optional(),
  })
  .strict();

export const cloudSchema = z
  .object({
    hosts: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'host names are letters, digits, "_", "." and "-"'), hostSchema),
    database: databaseSchema,
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
  if (typeof def === 'string' && !(def in clouds)) out.push({ path: 'defaultCloud', message: `names cloud "${def}", which is not under clouds (${Object.keys(clouds).join(', ')})` });
  for (const [name, cloud] of Object.entries(clouds as Record<string, unknown>)) {
    const c = cloud as { hosts?: Record<string, unknown>; database?: { host?: unknown } } | null;
    const dbHost = c?.database?.host;
    if (typeof dbHost !== 'string') continue;
    const hosts = c?.hosts && typeof c.hosts === 'object' ? c.hosts : {};
    const h = hosts[dbHost] as { mariadb?: unknown } | undefined;
    if (!h) out.push({ path: `clouds.${name}.database.host`, message: `names host "${dbHost}", which is not under hosts (${Object.keys(hosts).join(', ') || 'none'})` });
    else if (!h.mariadb) out.push({ path: `clouds.${name}.hosts.${dbHost}.mariadb`, message: 'is required on the database host' });
  }
  return out;
}

export type CloudConfig = z.infer<typeof cloudSchema>;

export const repositorySchema = z
  .object({
    /** Local disk (or NFS-mounted) folder that holds the artifacts and manifests. */
    path: absPath,
    /** Re-read every published artifact and compare its SHA-256 before publishing the manifest. */
    verifyAfterWrite: z.boolean().default(true),
  })
  .strict();

export const encryptionSchema = z
  .object({
    passphrase: secretRefSchema.optional(),
    /** ASCII-armored or binary OpenPGP public keys; any one of their secret keys can decrypt. */
    recipientKeyFiles: z.array(absPath).default([]),
  })
  .strict()
  .refine((e) => e.passphrase !== undefined || e.recipientKeyFiles.length > 0, 'needs a passphrase and/or recipientKeyFiles: artifacts are never stored unencrypted');

export const temporalSchema = z
  .object({
    address: nonEmpty.default('127.0.0.1:7233'),
    namespace: nonEmpty.default('osbackup'),
    taskQueue: nonEmpty.default('osbackup'),
    uiUrl: z.url().default('http://127.0.0.1:8233'),
    tls: z
      .object({ serverRootCaFile: absPath.optional(), clientCertFile: absPath.optional(), clientKeyFile: absPath.optional(), serverName: nonEmpty.optional() })
      .strict()
      .optional(),
    apiKey: secretRefSchema.optional(),
    /** 32-byte key (hex or base64 in the file) for the payload codec that encrypts Temporal history. */
    payloadKey: secretRefSchema.optional(),
  })
  .strict();

export const configSchema = z
  .object({
    temporal: temporalSchema.default(temporalSchema.parse({})),
    repository: repositorySchema,
    encryption: encryptionSchema,
    /** The cloud CLI commands act on when --cloud is not given and there are several. */
    defaultCloud: z.string().optional(),
    /** Worker-local folder for state (gpg home, scratch). */
    stateDir: absPath.default('/var/lib/osbackup'),
    clouds: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'cloud names are lower-case letters, digits, "_" and "-"'), cloudSchema).refine((c) => Object.keys(c).length > 0, 'must define at least one cloud'),
  })
  .strict();
export type Config = z.infer<typeof configSchema>;
