// A Galera cluster's nodes as a backup sees them: their wsrep state (for the donor choice),
// and the donor's protection — wsrep_desync ON for the backup, OFF again once its receive
// queue has drained. Setting desync leaves a marker file on the donor's host first, so a
// backup that died with a node still desynced (worker killed, workflow terminated) is found
// and put right by the next one.
import type { GaleraNodeState } from '../../core/galera/donor.js';
import type { Env } from '../deps.js';
import { fatal, FailureType } from '../errors.js';
import { shQuote } from '../ssh/quote.js';
import { runSql } from '../mariadb/facts.js';

const STATE_SQL = [
  'SELECT variable_name, variable_value FROM information_schema.global_status WHERE variable_name IN',
  "('WSREP_LOCAL_STATE','WSREP_LOCAL_STATE_COMMENT','WSREP_CLUSTER_STATUS','WSREP_READY','WSREP_CLUSTER_SIZE','WSREP_CLUSTER_STATE_UUID','WSREP_LAST_COMMITTED','WSREP_LOCAL_COMMITS','WSREP_LOCAL_RECV_QUEUE')",
  "UNION ALL SELECT 'DESYNC', @@global.wsrep_desync",
].join(' ');

/** Per host (several lab nodes share one filesystem; real hosts each have their own). */
export function desyncMarkerPath(host: string): string {
  return `/var/tmp/osbackup-galera-desync-${host}`;
}

export function galeraConfig(env: Env, cloud: string) {
  const g = env.cloud(cloud).database.galera;
  if (!g)
    throw fatal(
      FailureType.ConfigInvalid,
      `clouds.${cloud}.database has no galera section`,
      `add clouds.${cloud}.database.galera.nodes (the cluster's hosts)`,
    );
  return g;
}

export function parseStatus(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of out.split('\n')) {
    const [k, v] = line.split('\t');
    if (k && v !== undefined) m.set(k.toUpperCase(), v);
  }
  return m;
}

async function readMarker(env: Env, cloud: string, host: string): Promise<string | null> {
  const { target } = env.host(cloud, host);
  const r = await env.deps.ssh.run(target, `cat ${shQuote(desyncMarkerPath(host))} 2>/dev/null; true`);
  return r.stdout.trim() || null;
}

export async function readNode(env: Env, cloud: string, host: string): Promise<GaleraNodeState> {
  try {
    const s = parseStatus(await runSql(env, cloud, host, STATE_SQL));
    const num = (k: string) => (s.has(k) ? Number(s.get(k)) : undefined);
    return {
      host,
      reachable: true,
      state: s.get('WSREP_LOCAL_STATE_COMMENT'),
      localState: num('WSREP_LOCAL_STATE'),
      clusterStatus: s.get('WSREP_CLUSTER_STATUS'),
      ready: s.get('WSREP_READY') === 'ON',
      clusterSize: num('WSREP_CLUSTER_SIZE'),
      clusterUuid: s.get('WSREP_CLUSTER_STATE_UUID'),
      seqno: num('WSREP_LAST_COMMITTED'),
      localCommitsDelta: num('WSREP_LOCAL_COMMITS'),
      recvQueue: num('WSREP_LOCAL_RECV_QUEUE'),
      desync: s.get('DESYNC') === '1',
      desyncMarker: await readMarker(env, cloud, host).catch(() => null),
    };
  } catch (e) {
    return { host, reachable: false, error: (e as Error).message.split('. Fix:')[0] };
  }
}

/**
 * Every node's state. With `sampleSeconds`, wsrep_local_commits is read twice that far apart
 * and `localCommitsDelta` is the growth (the first read holds the raw counter otherwise).
 */
export async function inspectCluster(env: Env, cloud: string, sampleSeconds: number): Promise<GaleraNodeState[]> {
  const g = galeraConfig(env, cloud);
  const first = await Promise.all(g.nodes.map((h) => readNode(env, cloud, h)));
  if (sampleSeconds <= 0) return first.map((s) => ({ ...s, localCommitsDelta: undefined }));
  await new Promise((r) => setTimeout(r, sampleSeconds * 1000));
  const second = await Promise.all(first.map(async (s) => (s.reachable ? readNode(env, cloud, s.host) : s)));
  return first.map((s, i) => ({
    ...s,
    localCommitsDelta:
      s.reachable && second[i]!.reachable ? second[i]!.localCommitsDelta! - s.localCommitsDelta! : undefined,
  }));
}

/** Marks the host (durably), then desyncs the node: its flow control no longer stalls the cluster. */
export async function desyncNode(env: Env, cloud: string, host: string, backupId: string): Promise<void> {
  const { target } = env.host(cloud, host);
  const r = await env.deps.ssh.run(
    target,
    `umask 077 && printf '%s\\n' ${shQuote(backupId)} > ${shQuote(desyncMarkerPath(host))}`,
  );
  if (r.code !== 0)
    throw fatal(
      FailureType.RemoteCommandFailed,
      `${host}: cannot write ${desyncMarkerPath(host)} (${r.stderr.trim()})`,
      'check /var/tmp on the host',
    );
  await runSql(env, cloud, host, 'SET GLOBAL wsrep_desync=ON');
}

export interface ResyncResult {
  host: string;
  /** False when the queue had not drained by the timeout (desync was turned OFF regardless). */
  drained: boolean;
  waitedSeconds: number;
  maxRecvQueue: number;
}

/**
 * Waits for the donor's receive queue to drain (it applied nothing while the backup held its
 * commit lock), then wsrep_desync=OFF, checked, and the marker removed.
 */
export async function resyncNode(
  env: Env,
  cloud: string,
  host: string,
  drainTimeoutSeconds: number,
): Promise<ResyncResult> {
  const t0 = performance.now();
  let maxRecvQueue = 0;
  let drained = false;
  for (;;) {
    const q = Number(
      (
        await runSql(
          env,
          cloud,
          host,
          "SELECT variable_value FROM information_schema.global_status WHERE variable_name='WSREP_LOCAL_RECV_QUEUE'",
        )
      ).trim(),
    );
    maxRecvQueue = Math.max(maxRecvQueue, q);
    if (q === 0) {
      drained = true;
      break;
    }
    if ((performance.now() - t0) / 1000 > drainTimeoutSeconds) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const after = (await runSql(env, cloud, host, 'SET GLOBAL wsrep_desync=OFF; SELECT @@global.wsrep_desync')).trim();
  if (after !== '0')
    throw fatal(
      FailureType.MariadbBackupFailed,
      `${host}: wsrep_desync is still ${after} after SET GLOBAL wsrep_desync=OFF`,
      `run SET GLOBAL wsrep_desync=OFF on ${host} by hand and check who sets it`,
    );
  const { target } = env.host(cloud, host);
  await env.deps.ssh.run(target, `rm -f ${shQuote(desyncMarkerPath(host))}`);
  return { host, drained, waitedSeconds: (performance.now() - t0) / 1000, maxRecvQueue };
}

/**
 * Nodes an earlier backup left marked: still desynced → resynced; already back (the server
 * restarted, which resets desync) → the marker is removed. A node that does not answer keeps
 * its marker for the next run.
 */
export async function resetLeftoverDesync(
  env: Env,
  cloud: string,
  drainTimeoutSeconds: number,
): Promise<{ host: string; backupId: string; wasDesynced: boolean }[]> {
  const g = galeraConfig(env, cloud);
  const states = await Promise.all(g.nodes.map((h) => readNode(env, cloud, h)));
  const out: { host: string; backupId: string; wasDesynced: boolean }[] = [];
  for (const s of states) {
    if (!s.reachable || !s.desyncMarker) continue;
    if (s.desync) await resyncNode(env, cloud, s.host, drainTimeoutSeconds);
    else await env.deps.ssh.run(env.host(cloud, s.host).target, `rm -f ${shQuote(desyncMarkerPath(s.host))}`);
    out.push({ host: s.host, backupId: s.desyncMarker, wasDesynced: !!s.desync });
  }
  return out;
}
