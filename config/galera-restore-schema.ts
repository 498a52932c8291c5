// Galera cluster restore (galeraClusterRestoreWorkflow, `osbackup restore cluster`): how a node
// starts as the first node of a new cluster. Kept apart from schema.ts so the feature's config
// is one import and one field there.
import { z } from 'zod';
import { nonEmpty } from './secret-ref.js';

/**
 * clouds.<cloud>.hosts.<node>.mariadb.bootstrapCommand: starts MariaDB on this node with
 * `--wsrep-new-cluster` (a bare host: `mariadbd --wsrep-new-cluster` / `galera_new_cluster`;
 * Kolla: the `mariadb` container recreated with BOOTSTRAP_ARGS="--wsrep-new-cluster", as
 * kolla-ansible's mariadb_recovery does). Only a node with one can be the bootstrap node of a
 * cluster restore; unset on every node, `restore cluster` refuses and says so.
 */
export const bootstrapCommandSchema = z.array(nonEmpty).min(1, 'must name a command').optional();
