// Reading the facts that prove a restore: server version, row counts, CHECKSUM TABLE.
import type { DbFacts, ListedTable } from '../../core/manifest/manifest.js';
import type { Env } from '../deps.js';
import { cancellationSignal } from '../heartbeat.js';
import { classifyMariadbError } from './classify.js';
import {
  factsSql,
  LIST_TABLES_SQL,
  LIST_TABLES_WITH_STATS_SQL,
  parseFacts,
  parseTableList,
  sqlScript,
} from './commands.js';
import { assertHeartbeated } from '../heartbeat.js';

export async function runSql(env: Env, cloud: string, hostName: string, sql: string): Promise<string> {
  const { host, target } = env.host(cloud, hostName);
  const secret = await env.dbOptionFile(cloud, host);
  const r = await env.deps.ssh.run(target, sqlScript(host, secret.length, sql), {
    stdin: secret,
    signal: cancellationSignal(),
  });
  if (r.code !== 0) throw classifyMariadbError(hostName, 'SQL query', r.code, r.stderr);
  return r.stdout;
}

export async function collectFacts(env: Env, cloud: string, hostName: string, tables?: string[]): Promise<DbFacts> {
  assertHeartbeated(`reading table facts on ${hostName}`);
  const wanted = tables && tables.length > 0 ? tables : env.cloud(cloud).database.verifyTables;
  // Only tables that exist are queried: a missing one must show as "missing", not abort the batch.
  const present = (await runSql(env, cloud, hostName, LIST_TABLES_SQL)).split('\n').filter(Boolean);
  const list = wanted.length === 0 ? present : wanted.filter((t) => present.includes(t));
  const out = await runSql(env, cloud, hostName, factsSql(list));
  return parseFacts(out, list);
}

/**
 * The tables a backup records when its facts come from the backup: the catalog's list (limited
 * to `verifyTables` when set), read without touching a row of the live server.
 */
export async function listTables(
  env: Env,
  cloud: string,
  hostName: string,
): Promise<{ serverVersion: string; tables: ListedTable[] }> {
  const wanted = env.cloud(cloud).database.verifyTables;
  const r = parseTableList(await runSql(env, cloud, hostName, LIST_TABLES_WITH_STATS_SQL));
  if (wanted.length === 0) return r;
  // in the configured order, as the live facts are; a configured table that does not exist is not listed
  const by = new Map(r.tables.map((t) => [t.table, t]));
  return { ...r, tables: wanted.map((w) => by.get(w)).filter((t): t is ListedTable => t !== undefined) };
}
