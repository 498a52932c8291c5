// clouds.<cloud>.dr: the full-rebuild runbook's deploy commands (drRebuildWorkflow, `osbackup dr
// rebuild`). Argument arrays, never shell strings; "{configDir}" and "{inventory}" inside an
// argument are replaced with controlPlane.kolla.configDir and <configDir>/inventory.
// Kolla-Ansible by default. On a Galera cloud `deploy --tags mariadb` starts a new cluster
// only when one can be bootstrapped: after a loss of every node use Kolla's own recovery
// ([kolla-ansible, -i, "{inventory}", mariadb_recovery]) as deployMariadb.
import { z } from 'zod';
import { nonEmpty } from './secret-ref.js';

const argv = z.array(nonEmpty).min(1, 'must name a command');

export const KOLLA_DR_COMMANDS = {
  bootstrapServers: ['kolla-ansible', '-i', '{inventory}', 'bootstrap-servers'],
  deployMariadb: ['kolla-ansible', '-i', '{inventory}', 'deploy', '--tags', 'mariadb'],
  deployServices: ['kolla-ansible', '-i', '{inventory}', 'deploy'],
};

export const drSchema = z
  .object({
    /** Where the commands run: "worker" (the deploy host is often the worker's) or a host of this cloud (over SSH), like services.<svc>.runOn. */
    runOn: nonEmpty.default('worker'),
    commands: z
      .object({
        bootstrapServers: argv.default(KOLLA_DR_COMMANDS.bootstrapServers),
        deployMariadb: argv.default(KOLLA_DR_COMMANDS.deployMariadb),
        deployServices: argv.default(KOLLA_DR_COMMANDS.deployServices),
      })
      .strict()
      .prefault({}),
    /** A command step still running after this long fails the step (the run can be resumed with the same run id). */
    stepTimeoutMinutes: z.number().positive().default(120),
    /** How long verify-services waits for a token and for every catalog endpoint to answer after the deploy. */
    verifyTimeoutMinutes: z.number().positive().default(10),
    /** The rebuild's recovery time objective: a record whose RTO exceeds it names the breach. Unset: no target. */
    rtoTargetMinutes: z.number().positive().optional(),
  })
  .strict();
export type DrConfig = z.infer<typeof drSchema>;
