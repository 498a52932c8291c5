// Galera cluster restore on the hosts: the cloud's restore settings, grastate.dat for the
// bootstrap node, a joiner's datadir emptied (so it takes a full SST from the restored node),
// and a joiner started and watched until it is Synced. The chain itself is restored by
// restoreDatabaseWorkflow's activities (mariadb/restore.ts); this adds only what a cluster needs.
import { grastateText, type BootstrapPosition, type ClusterRestoreSettings } from '../../core/galera/restore-plan.js';
import type { Env } from '../deps.js';
import { fatal, FailureType } from '../errors.js';
import { heartbeater } from '../heartbeat.js';
import { shJoin, shQuote } from '../ssh/quote.js';
import { runSql } from '../mariadb/facts.js';
import { readNode } from './cluster.js';
import { remote, serverCommand } from '../mariadb/restore.js';

/** Null for a cloud that is not a Galera cluster (the plan refuses it). Commands are config, no secrets. */
export function clusterRestoreSettings(env: Env, cloud: string): ClusterRestoreSettings | null {
  const g = env.cloud(cloud).database.galera;
  if (!g) return null;
  const commands: ClusterRestoreSettings['commands'] = {};
  for (const n of g.nodes) {
    const m = env.dbHost(cloud, n).host.mariadb;
    commands[n] = {
      start: shJoin(m.startCommand),
      stop: shJoin(m.stopCommand),
      bootstrap: m.bootstrapCommand ? shJoin(m.bootstrapCommand) : null,
      datadir: m.datadir,
    };
  }
  return { nodes: [...g.nodes], commands };
}

/** The server must be down before its datadir is touched: a node that still answers is refused. */
async function refuseIfRunning(env: Env, cloud: string, host: string, what: string): Promise<void> {
  const up = await runSql(env, cloud, host, 'SELECT 1').then(
    () => true,
    () => false,
  );
  if (up)
    throw fatal(
      FailureType.MariadbRestoreFailed,
      `${host}: MariaDB still answers after its stop command; refusing to ${what}`,
      `check clouds.<cloud>.hosts.${host}.mariadb.stopCommand stops the server, stop it by hand and run the restore again`,
    );
}

/** Writes <datadir>/grastate.dat (owned by the server's user) on the stopped bootstrap node. */
export async function writeBootstrapState(
  env: Env,
  cloud: string,
  host: string,
  pos: BootstrapPosition,
): Promise<void> {
  const m = env.dbHost(cloud, host).host.mariadb;
  await refuseIfRunning(env, cloud, host, 'write grastate.dat');
  const file = shQuote(`${m.datadir}/grastate.dat`);
  const script = `printf '%s' ${shQuote(grastateText(pos))} > ${file}${m.owner ? ` && chown ${shQuote(m.owner)} ${file}` : ''}`;
  await remote(env, cloud, host, 'writing grastate.dat (safe_to_bootstrap: 1)', script);
}

/**
 * Empties a stopped joiner's datadir, grastate.dat included: it then has no state to offer and
 * takes a full SST from the restored node. Its old data is the old cluster's, which the
 * bootstrap node's restore kept aside (every node of a synced cluster held the same).
 */
export async function wipeNode(env: Env, cloud: string, host: string): Promise<void> {
  const m = env.dbHost(cloud, host).host.mariadb;
  if (m.datadir.split('/').filter(Boolean).length < 2)
    throw fatal(
      FailureType.ConfigInvalid,
      `${host}: datadir ${m.datadir} is too close to / to empty`,
      `set clouds.${cloud}.hosts.${host}.mariadb.datadir to the server's own data folder`,
    );
  await refuseIfRunning(env, cloud, host, `empty ${m.datadir}`);
  const dd = shQuote(m.datadir);
  await remote(
    env,
    cloud,
    host,
    `emptying ${m.datadir}`,
    `mkdir -p ${dd} && find ${dd} -mindepth 1 -delete${m.owner ? ` && chown ${shQuote(m.owner)} ${dd}` : ''}`,
  );
}

/**
 * Starts a joiner and waits until it is Synced in a Primary component of `size` nodes. Its
 * start command may return before the SST ends (docker start) or after (a script waiting for
 * the server): either way the node's wsrep state decides.
 */
export async function startJoiner(
  env: Env,
  cloud: string,
  host: string,
  size: number,
  timeoutSeconds: number,
): Promise<{ seconds: number }> {
  const t0 = performance.now();
  const beat = heartbeater(2000);
  await serverCommand(env, cloud, host, 'start');
  let last = 'not answering yet';
  for (;;) {
    const s = await readNode(env, cloud, host);
    if (s.reachable && s.state === 'Synced' && s.clusterStatus === 'Primary' && (s.clusterSize ?? 0) >= size)
      return { seconds: (performance.now() - t0) / 1000 };
    last = s.reachable
      ? `${s.state ?? '?'}, cluster size ${s.clusterSize ?? '?'}, ${s.clusterStatus ?? '?'}`
      : 'not answering';
    const waited = (performance.now() - t0) / 1000;
    beat({ step: `waiting for ${host} to be Synced`, state: last, waitedSeconds: Math.round(waited) });
    if (waited > timeoutSeconds)
      throw fatal(
        FailureType.MariadbRestoreFailed,
        `${host} did not reach Synced within ${timeoutSeconds} s after its start command (last seen: ${last})`,
        `read ${host}'s MariaDB error log (the SST from the bootstrap node is logged there), fix the cause, empty its datadir and run \`${shJoin(env.dbHost(cloud, host).host.mariadb.startCommand)}\``,
      );
    await new Promise((r) => setTimeout(r, 1000));
  }
}
