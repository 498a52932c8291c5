// Shell scripts run on a RabbitMQ host: export the broker's definitions to stdout, import them
// from stdin, check that the broker answers. Built here as strings and quoted in one place
// (activities/ssh/quote.ts); inServiceContext puts them inside the `rabbitmq` container on
// Kolla hosts. The definitions carry users' password hashes: they travel on the SSH channel
// only, never on a command line, and the import's temporary copy is 0600 in a private folder
// removed on every exit path.
import type { HostConfig } from '../../config/schema.js';
import { rabbitmqHostSchema, type RabbitmqHostConfig } from '../../config/rabbitmq-schema.js';
import { inServiceContext, shJoin, shQuote } from '../ssh/quote.js';

export type RabbitmqHost = Pick<HostConfig, 'containerRuntime'> & { rabbitmq?: Partial<RabbitmqHostConfig> };

/** Exit codes the scripts use for their own failures (rabbitmqctl uses sysexits: 64–78). */
export const RabbitmqScriptExit = {
  NoTempDir: 97,
  NothingReceived: 96,
  ChecksumMismatch: 95,
  CommandNotFound: 127,
} as const;

function settings(host: RabbitmqHost): RabbitmqHostConfig {
  return rabbitmqHostSchema.parse(host.rabbitmq ?? {});
}

/** `[env K=V …] rabbitmqctl [-n node] <args>`, quoted. */
export function rabbitmqctlCommand(host: RabbitmqHost, args: readonly string[]): string {
  const r = settings(host);
  const env = Object.entries(r.env).map(([k, v]) => `${k}=${v}`);
  return shJoin([
    ...(env.length > 0 ? ['env', ...env] : []),
    r.rabbitmqctl,
    ...(r.nodeName ? ['-n', r.nodeName] : []),
    ...args,
  ]);
}

/** Fails with 127 and a message naming the command when it is not there (rather than sh's terse "not found"). */
function commandCheck(r: RabbitmqHostConfig): string {
  const c = shQuote(r.rabbitmqctl);
  return `command -v ${c} >/dev/null 2>&1 || { echo ${shQuote(`osbackup: ${r.rabbitmqctl}: command not found`)} >&2; exit ${RabbitmqScriptExit.CommandNotFound}; }`;
}

function wrap(host: RabbitmqHost, lines: string[]): string {
  return inServiceContext(host, settings(host).container, lines.join('\n'));
}

/** Writes the definitions as JSON to stdout (`export_definitions -`; -q keeps the info line off stdout). */
export function exportDefinitionsScript(host: RabbitmqHost): string {
  const r = settings(host);
  return wrap(host, [
    commandCheck(r),
    `exec ${rabbitmqctlCommand(host, ['-q', 'export_definitions', '-', '--format', 'json', '--timeout', String(r.timeoutSeconds)])}`,
  ]);
}

/**
 * Imports definitions that arrive on stdin. They are first written whole to a 0600 file in a
 * private mktemp folder (import_definitions reads a file; a stream cut short then never reaches
 * the broker half-read), checked against `sha256` when given, imported, and removed on every
 * exit path (EXIT trap; HUP/INT/TERM turn into an exit so the trap runs).
 */
export function importDefinitionsScript(host: RabbitmqHost, opts: { sha256?: string } = {}): string {
  const r = settings(host);
  if (opts.sha256 !== undefined && !/^[0-9a-f]{64}$/.test(opts.sha256))
    throw new Error('sha256 must be 64 lower-case hex digits');
  const f = '"$d/definitions.json"';
  return wrap(host, [
    'umask 077',
    commandCheck(r),
    `d=$(mktemp -d "\${TMPDIR:-/tmp}/osbackup-rabbitmq.XXXXXX") || exit ${RabbitmqScriptExit.NoTempDir}`,
    `trap 'rm -rf "$d"' EXIT`,
    `trap 'exit 143' HUP INT TERM`,
    `cat > ${f} || exit ${RabbitmqScriptExit.NoTempDir}`,
    `[ -s ${f} ] || { echo 'osbackup: no definitions arrived on stdin' >&2; exit ${RabbitmqScriptExit.NothingReceived}; }`,
    ...(opts.sha256
      ? [
          `echo "${opts.sha256}  $d/definitions.json" | sha256sum -c --status || { echo 'osbackup: the definitions that arrived do not match the expected SHA-256 (cut short or damaged on the way)' >&2; exit ${RabbitmqScriptExit.ChecksumMismatch}; }`,
        ]
      : []),
    `${rabbitmqctlCommand(host, ['-q', 'import_definitions', '--format', 'json', '--timeout', String(r.timeoutSeconds)])} ${f}`,
  ]);
}

/** Asks the node for its status as JSON: fails (exit 69 + diagnostics) when it cannot be reached. */
export function statusScript(host: RabbitmqHost): string {
  const r = settings(host);
  return wrap(host, [
    commandCheck(r),
    `exec ${rabbitmqctlCommand(host, ['-q', 'status', '--formatter', 'json', '--timeout', String(Math.min(r.timeoutSeconds, 60))])}`,
  ]);
}

export interface RabbitmqStatus {
  rabbitmqVersion: string;
  erlangVersion: string;
  /** Alarms the broker raises (memory, disk): an import still works, but the operator should know. */
  alarms: string[];
}

export function parseStatus(stdout: string): RabbitmqStatus {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(stdout) as Record<string, unknown>;
  } catch {
    throw new Error(`rabbitmqctl status did not print JSON: ${stdout.slice(0, 200)}`);
  }
  const str = (v: unknown) => (typeof v === 'string' ? v : 'unknown');
  const alarms = Array.isArray(j.alarms) ? j.alarms.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))) : [];
  return { rabbitmqVersion: str(j.rabbitmq_version), erlangVersion: str(j.erlang_version).trim(), alarms };
}
