// Turning rabbitmqctl output into typed failures that name the cause and the fix. rabbitmqctl
// prints the same "most common reasons" boilerplate (which mentions the Erlang cookie) for every
// connection failure: only the DIAGNOSTICS lines tell the causes apart.
import type { ApplicationFailure } from '@temporalio/common';
import { fatal, transient, FailureType } from '../errors.js';
import { RabbitmqScriptExit } from './commands.js';

/** The lines worth showing: rabbitmqctl's diagnostics (" * …") or, failing that, the last lines. */
export function rabbitmqDiagnostics(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const i = lines.indexOf('DIAGNOSTICS');
  const diag =
    i >= 0
      ? lines
          .slice(i + 1)
          .filter(
            (l) => l.startsWith('* ') && !/see the CLI, clustering|node name:|home directory:|cookie hash:/.test(l),
          )
      : [];
  const first = lines.find((l) => /^Error\b/.test(l) && !/unable to perform an operation/.test(l));
  const picked = diag.length > 0 ? diag : lines.slice(-6);
  return [...(first && !picked.includes(first) ? [first] : []), ...picked].join(' | ').slice(0, 1500);
}

export function classifyRabbitmqError(
  host: string,
  what: string,
  code: number | null,
  stderr: string,
): ApplicationFailure {
  const why = rabbitmqDiagnostics(stderr) || 'no output';
  const at = `${host}: ${what}`;
  if (
    code === RabbitmqScriptExit.CommandNotFound ||
    /command not found|executable file not found|: not found/.test(stderr)
  ) {
    return fatal(
      FailureType.RemoteCommandFailed,
      `${at}: rabbitmqctl is not installed where it runs (${why})`,
      'set containerRuntime so it runs inside the rabbitmq container (Kolla), install the RabbitMQ CLI on the host, or set hosts.<host>.rabbitmq.rabbitmqctl to its path',
    );
  }
  if (/No such container|Error response from daemon|Cannot connect to the Docker daemon/i.test(stderr)) {
    return transient(
      FailureType.RabbitmqUnreachable,
      `${at}: the RabbitMQ container is missing or stopped (${why})`,
      'check `docker ps -a` on the host and hosts.<host>.rabbitmq.container; start it (docker start rabbitmq, or kolla-ansible deploy --tags rabbitmq)',
    );
  }
  if (code === RabbitmqScriptExit.NoTempDir) {
    return transient(
      FailureType.RemoteCommandFailed,
      `${at}: cannot write a private temporary file for the definitions`,
      'check /tmp (or $TMPDIR) on the host or in the container: full or read-only?',
    );
  }
  if (code === RabbitmqScriptExit.NothingReceived) {
    return transient(
      FailureType.RemoteCommandFailed,
      `${at}: no definitions arrived on the host (the stream was cut)`,
      'it is retried; check the SSH connection if it keeps failing',
    );
  }
  if (code === RabbitmqScriptExit.ChecksumMismatch) {
    return transient(
      FailureType.ChecksumMismatch,
      `${at}: the definitions that arrived on the host differ from the backup (SHA-256)`,
      'it is retried; check the SSH connection and the stored artifact (osbackup verify) if it keeps failing',
    );
  }
  if (/Cookie file .* must be accessible by owner only|Failed to create cookie file|invalid_cookie/i.test(stderr)) {
    return fatal(
      FailureType.RabbitmqAuthFailed,
      `${at}: rabbitmqctl cannot use its Erlang cookie file (${why})`,
      "the .erlang.cookie in the CLI user's $HOME must exist, be owned by that user and have mode 0400/0600",
    );
  }
  if (/Erlang distribution failed|check if the Erlang cookie is identical/i.test(stderr)) {
    return fatal(
      FailureType.RabbitmqAuthFailed,
      `${at}: the broker refused rabbitmqctl: its Erlang cookie differs from the broker's (${why})`,
      "run rabbitmqctl as the user whose $HOME/.erlang.cookie matches the broker's (Debian: root through the rabbitmqctl wrapper reads /var/lib/rabbitmq/.erlang.cookie; Kolla: inside the rabbitmq container), or set hosts.<host>.rabbitmq.env.HOME to the folder holding the broker's cookie",
    );
  }
  if (/nxdomain|non-existing domain/i.test(stderr)) {
    return fatal(
      FailureType.RabbitmqNodeUnknown,
      `${at}: the host part of the node name does not resolve (${why})`,
      "set hosts.<host>.rabbitmq.nodeName to the broker's node name (`rabbitmqctl status` on the host shows it; Kolla: rabbit@<short hostname>)",
    );
  }
  const other = /other nodes on \S+: \[([^\]]*)\]/.exec(stderr);
  const brokers = (other?.[1] ?? '')
    .split(',')
    .map((n) => n.trim().replace(/^'|'$/g, ''))
    .filter((n) => n && !n.startsWith('rabbitmqcli'));
  if (/epmd reports: node '[^']*' not running at all/.test(stderr) && brokers.length > 0) {
    return fatal(
      FailureType.RabbitmqNodeUnknown,
      `${at}: no broker of that node name runs there; epmd knows ${brokers.join(', ')} (${why})`,
      'set hosts.<host>.rabbitmq.nodeName to the running node (e.g. rabbit@<host> for a node registered as "rabbit")',
    );
  }
  if (
    /not running at all|unable to connect to epmd|nodedown|Target node is not running|connection refused/i.test(
      stderr,
    ) &&
    code === 69
  ) {
    return transient(
      FailureType.RabbitmqUnreachable,
      `${at}: the RabbitMQ broker is not running (${why})`,
      'start the broker (systemctl start rabbitmq-server, docker start rabbitmq) and check its log; on a cluster, point clouds.<cloud>.rabbitmq.host at a running member',
    );
  }
  if (code === 75 || /timed? ?out/i.test(stderr)) {
    return transient(
      FailureType.RabbitmqUnreachable,
      `${at}: the broker did not answer in time (${why})`,
      'it is retried; raise hosts.<host>.rabbitmq.timeoutSeconds if the broker is large or busy',
    );
  }
  if (code === 65 || /Failed to deserialise|does not exist|Failed to import|validation/i.test(stderr)) {
    return fatal(
      FailureType.RabbitmqDefinitionsRejected,
      `${at}: the broker rejected the definitions (${why})`,
      'the broker may already hold part of them: read the error, fix the broker (e.g. missing plugins for policies/parameters, a RabbitMQ version too old for the file) and import again',
    );
  }
  if (code === 69) {
    return transient(
      FailureType.RabbitmqUnreachable,
      `${at}: rabbitmqctl could not reach the broker (${why})`,
      'check that the broker runs and that nodeName/env in hosts.<host>.rabbitmq match it',
    );
  }
  return transient(
    FailureType.RabbitmqCommandFailed,
    `${at} failed with exit ${code ?? 'signal'} (${why})`,
    'read the rabbitmqctl output above',
  );
}
