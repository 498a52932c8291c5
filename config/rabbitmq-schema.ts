// Where and how rabbitmqctl runs on a host,
// and which host of a cloud holds the broker whose definitions are backed up.
//
//   hostSchema:  rabbitmq: rabbitmqHostSchema.optional()
//   cloudSchema: rabbitmq: rabbitmqCloudSchema.optional()
//   crossReferenceProblems: clouds.<c>.rabbitmq.host must name a host that has `rabbitmq`
//     (rabbitmqCrossReferenceProblems below does exactly that).
//
// Kolla host:  rabbitmq: {}                  → docker exec -i rabbitmq sh -c 'rabbitmqctl …'
// Debian host: rabbitmq: {}                  → rabbitmqctl … (the Debian wrapper su's to rabbitmq,
//              which reads /var/lib/rabbitmq/.erlang.cookie)
// Lab host:    rabbitmq: { rabbitmqctl: /usr/lib/rabbitmq/bin/rabbitmqctl, nodeName: rabbit@localhost,
//                          env: { HOME: <hostdir>/rabbitmq } }   (see test/lab/rabbitmq.sh)
import { z } from 'zod';

const nonEmpty = z.string().min(1, 'must not be empty');

/** Environment variables that would put the Erlang cookie on the host's process table. */
const COOKIE_VARIABLES = ['RABBITMQ_ERLANG_COOKIE'];

export const rabbitmqHostSchema = z
  .object({
    /** Container that runs the broker when the host's containerRuntime is docker/podman (Kolla: `rabbitmq`). */
    container: nonEmpty.default('rabbitmq'),
    /** Node to talk to (rabbitmqctl -n). Unset: rabbitmqctl's own default (RABBITMQ_NODENAME, rabbitmq-env.conf, rabbit@<short hostname>). */
    nodeName: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+$/, 'must look like rabbit@<host>')
      .optional(),
    /** The CLI to run: a name on PATH or an absolute path. */
    rabbitmqctl: nonEmpty.default('rabbitmqctl'),
    /** Extra environment for rabbitmqctl (e.g. HOME where .erlang.cookie lives, RABBITMQ_CONF_ENV_FILE). Values are not secrets. */
    env: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'), z.string())
      .default({})
      .refine(
        (e) => !Object.keys(e).some((k) => COOKIE_VARIABLES.includes(k)),
        "must not carry the Erlang cookie (it would show in the host's process list): point HOME at the folder holding .erlang.cookie instead",
      ),
    /** Seconds rabbitmqctl may take per operation (its --timeout). */
    timeoutSeconds: z.number().int().min(1).max(3600).default(120),
  })
  .strict();
export type RabbitmqHostConfig = z.infer<typeof rabbitmqHostSchema>;

export const rabbitmqCloudSchema = z
  .object({
    /** Host (a key of `hosts`) where rabbitmqctl reaches the broker; any cluster member will do. */
    host: nonEmpty,
  })
  .strict();
export type RabbitmqCloudConfig = z.infer<typeof rabbitmqCloudSchema>;

/** Cross-reference check for crossReferenceProblems(): the cloud's rabbitmq.host exists and has a `rabbitmq` section. */
export function rabbitmqCrossReferenceProblems(raw: unknown): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  const clouds = (raw as { clouds?: unknown })?.clouds;
  if (!clouds || typeof clouds !== 'object') return out;
  for (const [name, cloud] of Object.entries(clouds as Record<string, unknown>)) {
    const c = cloud as { hosts?: Record<string, unknown>; rabbitmq?: { host?: unknown } } | null;
    const h = c?.rabbitmq?.host;
    if (typeof h !== 'string') continue;
    const hosts = c?.hosts && typeof c.hosts === 'object' ? c.hosts : {};
    const entry = hosts[h] as { rabbitmq?: unknown } | undefined;
    if (!entry)
      out.push({
        path: `clouds.${name}.rabbitmq.host`,
        message: `names host "${h}", which is not under hosts (${Object.keys(hosts).join(', ') || 'none'})`,
      });
    else if (!entry.rabbitmq)
      out.push({
        path: `clouds.${name}.hosts.${h}.rabbitmq`,
        message: 'is required on the RabbitMQ host (use `rabbitmq: {}` for the defaults)',
      });
  }
  return out;
}
