// The lab's Galera cluster (test/lab/galera.sh) for tests and benchmarks: its cloud merged into
// a derived config, SQL on a node as the lab's admin over TCP, and a steady write load that
// measures how long each write waited.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import { labDir } from './lab.js';

export const GALERA_NODES = ['gal1', 'gal2', 'gal3'] as const;
export type GaleraNode = (typeof GALERA_NODES)[number];

type Raw = Record<string, any>;

export function galeraCloud(): Raw {
  const file = join(labDir(), 'galera/cloud.yml');
  if (!existsSync(file))
    throw new Error(
      `the Galera cluster is not up (no ${file}): run test/lab/galera.sh up (or the lab with LAB_GALERA=1)`,
    );
  return (parse(readFileSync(file, 'utf8')) as Raw).galera as Raw;
}

function address(node: GaleraNode): string {
  return galeraCloud().hosts[node].address as string;
}

function adminEnv(): NodeJS.ProcessEnv {
  return { ...process.env, MYSQL_PWD: readFileSync(join(labDir(), 'galera/admin-password'), 'utf8').trim() };
}

/** SQL on one node as the lab's admin (over TCP: the nodes' sockets live in their namespaces). */
export async function gsql(node: GaleraNode, statement: string): Promise<string> {
  const r = await execa(
    'mariadb',
    ['-h', address(node), '-u', 'labadmin', '-N', '-B', '--connect-timeout=5', '-e', statement],
    { env: adminEnv() },
  );
  return r.stdout;
}

export async function wsrep(
  node: GaleraNode,
): Promise<{ size: number; state: string; desync: boolean; seqno: number; uuid: string }> {
  const out = await gsql(
    node,
    "SELECT (SELECT variable_value FROM information_schema.global_status WHERE variable_name='wsrep_cluster_size'), (SELECT variable_value FROM information_schema.global_status WHERE variable_name='wsrep_local_state_comment'), @@global.wsrep_desync, (SELECT variable_value FROM information_schema.global_status WHERE variable_name='wsrep_last_committed'), (SELECT variable_value FROM information_schema.global_status WHERE variable_name='wsrep_cluster_state_uuid')",
  );
  const [size, state, desync, seqno, uuid] = out.trim().split('\t');
  return { size: Number(size), state: state!, desync: desync === '1', seqno: Number(seqno), uuid: uuid! };
}

/** Polls until every node answers Synced in a cluster of three with desync OFF. */
export async function waitClusterSynced(timeoutMs = 120_000): Promise<void> {
  const t0 = Date.now();
  let last = '';
  for (;;) {
    const states = await Promise.all(
      GALERA_NODES.map((n) =>
        wsrep(n).then(
          (w) => `${n}:${w.size}/${w.state}/${w.desync ? 'desync' : 'sync'}`,
          (e: Error) => `${n}:${e.message.split('\n')[0]}`,
        ),
      ),
    );
    last = states.join(' ');
    if (states.every((s) => s.endsWith(':3/Synced/sync'))) return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`the cluster did not settle: ${last}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

export interface WriteLoad {
  /** Stops writing and reports: writes done and the longest a single write waited. */
  stop: () => Promise<{ writes: number; maxStallMs: number; failures: number }>;
}

/**
 * One connection to `node` inserting a row, then the next as soon as the reply is back, at
 * most `perSecond` a second. A write's wait is from sending it to its reply; a cluster frozen
 * by flow control shows up as one long wait.
 */
export function startWriteLoad(node: GaleraNode, perSecond = 20): WriteLoad {
  const child = spawn('mariadb', ['-h', address(node), '-u', 'labadmin', '-N', '-B', '--unbuffered', 'osb_load'], {
    env: adminEnv(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stopped = false;
  let writes = 0;
  let failures = 0;
  let maxStallMs = 0;
  let buf = '';
  let waiting: ((n: number) => void) | null = null;
  child.stdout.on('data', (b: Buffer) => {
    buf += b.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      waiting?.(Number(line));
    }
  });
  child.stderr.on('data', () => failures++);
  const exited = new Promise<number>((r) => child.once('exit', () => r(-1)));
  const done = (async () => {
    for (let n = 1; !stopped; n++) {
      const t0 = performance.now();
      const replied = new Promise<number>((r) => (waiting = r));
      child.stdin.write(`INSERT INTO writes (at, payload) VALUES (NOW(6), REPEAT('w', 200)); SELECT ${n};\n`);
      if ((await Promise.race([replied, exited])) === -1) break;
      const ms = performance.now() - t0;
      maxStallMs = Math.max(maxStallMs, ms);
      writes++;
      const pause = 1000 / perSecond - ms;
      if (pause > 0) await new Promise((r) => setTimeout(r, pause));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await done;
      child.stdin.end();
      return { writes, maxStallMs, failures };
    },
  };
}

/** The mysqld pid of a bare node (gal1, gal2), for killing it the hard way. */
export function nodePid(node: 'gal1' | 'gal2'): number {
  return Number(readFileSync(join(labDir(), node, 'mysqld.pid'), 'utf8').trim());
}
