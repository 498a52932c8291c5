// A command as a detached job with a folder of its own (pid, exit code, output, a line per
// launch), so the command survives its worker: a worker killed with SIGKILL leaves kolla-ansible
// (a rebuild's deploy) or `mariadb < replay.sql` (a point-in-time replay) running, and the
// activity's retry re-attaches to it instead of starting a second one next to it. A job whose
// folder holds an exit code is over: a retry reads the outcome and never launches it again. A job
// that died without an exit code (its host rebooted) is launched anew and the launch counted,
// unless running it twice would do harm (relaunch: false): then the retry stops and says so.
import type { Env } from '../deps.js';
import { fatal, FailureType, transient } from '../errors.js';
import { cancellationSignal, heartbeater } from '../heartbeat.js';
import { redact } from '../redact.js';
import { runOn } from './run-on.js';
import { shJoin, shQuote } from './quote.js';

export interface JobOutcome {
  argv0: string;
  where: string;
  exitCode: number;
  stdoutTail: string;
  stderrTail: string;
  seconds: number;
  /** How many times this job's command was started (1 unless it died without an exit code). */
  launches: number;
  /** This attempt found the command already running (or finished) and did not start it. */
  reattached: boolean;
}

export interface JobOptions {
  /** The job's folder (default: per cloud and key under the worker's state or /var/tmp). */
  dir?: string;
  /** What the job does, for messages (default: its command). */
  what?: string;
  /**
   * Set when running the command twice would do harm: a job that died part way is not launched
   * again, and the retry fails with this fix instead.
   */
  interrupted?: string;
  /** The fix named when the job outlives timeoutSeconds. */
  timeoutFix?: string;
}

function interruptedJob(where: string, what: string, dir: string, fix: string) {
  return fatal(
    FailureType.RemoteCommandFailed,
    `${where}: ${what} (job ${dir}) ended without an exit code: it was interrupted part way and is not run a second time`,
    fix,
  );
}

/** The folder of one job: on the worker under stateDir, on a host under /var/tmp. */
export function jobDir(env: Env, where: string, cloud: string, key: string): string {
  const base = where === 'worker' ? `${env.config.stateDir}/dr-jobs` : '/var/tmp/osbackup-dr-jobs';
  return `${base}/${cloud}/${key}`;
}

/** Starts the job unless it runs or ran; prints state=launched|running|finished|died and launches=N. */
export function startScript(dir: string, argv: readonly string[], relaunch = true): string {
  const d = shQuote(dir);
  // the inner shell writes the exit code last (rename: never half written)
  const inner = `${shJoin(argv)} </dev/null >${d}/out 2>${d}/err; echo $? >${d}/rc.tmp && mv ${d}/rc.tmp ${d}/rc`;
  return [
    'set -u',
    `mkdir -p -m 700 ${d}`,
    `if [ -f ${d}/rc ]; then echo state=finished`,
    `elif [ -f ${d}/pid ] && kill -0 "$(cat ${d}/pid)" 2>/dev/null; then echo state=running`,
    ...(relaunch ? [] : [`elif [ -f ${d}/pid ]; then echo state=died`]),
    `else date -u +%Y-%m-%dT%H:%M:%SZ >>${d}/launches; rm -f ${d}/out ${d}/err; setsid bash -c ${shQuote(inner)} </dev/null >/dev/null 2>&1 & echo $! >${d}/pid; echo state=launched`,
    'fi',
    `echo "launches=$(wc -l <${d}/launches 2>/dev/null || echo 0)"`,
  ].join('\n');
}

/** One look at the job: rc=<n> when over, alive=1|0 otherwise, and the output tails once over. */
export function pollScript(dir: string): string {
  const d = shQuote(dir);
  return [
    `if [ -f ${d}/rc ]; then echo "rc=$(cat ${d}/rc)"; echo "launches=$(wc -l <${d}/launches)"; echo ---out; tail -c 2000 ${d}/out 2>/dev/null; echo; echo ---err; tail -c 2000 ${d}/err 2>/dev/null`,
    `elif [ -f ${d}/pid ] && kill -0 "$(cat ${d}/pid)" 2>/dev/null; then echo alive=1`,
    'else echo alive=0',
    'fi',
  ].join('\n');
}

const tail = (s: string) => redact(s.trim().split('\n').slice(-10).join('\n').slice(-2000));

/**
 * Runs argv as job `key` on `where` and waits for its end (heartbeating), bounded by
 * `timeoutSeconds`; a non-zero exit is returned, not thrown (the workflow names the step).
 */
export async function runJob(
  env: Env,
  cloud: string,
  where: string,
  key: string,
  argv: readonly string[],
  timeoutSeconds: number,
  opts: JobOptions = {},
): Promise<JobOutcome> {
  const dir = opts.dir ?? jobDir(env, where, cloud, key);
  const what = opts.what ?? argv[0]!;
  const relaunch = !opts.interrupted;
  const t0 = performance.now();
  const sh = (script: string) => runOn(env, cloud, where, ['bash', '-c', script]);
  const started = await sh(startScript(dir, argv, relaunch));
  const state = /state=(\w+)/.exec(started.stdout)?.[1];
  if (state === 'died') throw interruptedJob(where, what, dir, opts.interrupted!);
  if (started.code !== 0 || !state)
    throw transient(
      FailureType.RemoteCommandFailed,
      `${where}: could not start ${argv[0]} in ${dir}: ${tail(started.stderr) || `exit ${started.code}`}`,
      'check the host (disk, permissions); the step is retried',
    );
  const beat = heartbeater(2000);
  const signal = cancellationSignal();
  for (;;) {
    const p = await sh(pollScript(dir));
    const rc = /^rc=(\d+)$/m.exec(p.stdout);
    if (rc) {
      const [, out = '', err = ''] = p.stdout.split(/^---(?:out|err)$/m);
      return {
        argv0: argv[0]!,
        where,
        exitCode: Number(rc[1]),
        stdoutTail: tail(out),
        stderrTail: tail(err),
        seconds: (performance.now() - t0) / 1000,
        launches: Number(/launches=(\d+)/.exec(p.stdout)?.[1] ?? 1),
        reattached: state !== 'launched',
      };
    }
    if (/alive=0/.test(p.stdout)) {
      if (opts.interrupted) throw interruptedJob(where, what, dir, opts.interrupted);
      // the command died without writing its exit code (host rebooted, killed by hand): a retry launches it again
      throw transient(
        FailureType.RemoteCommandFailed,
        `${where}: ${argv[0]} (job ${dir}) ended without an exit code`,
        'it is launched again on the next attempt; look at its output in that folder',
      );
    }
    const seconds = (performance.now() - t0) / 1000;
    if (seconds > timeoutSeconds)
      throw fatal(
        FailureType.RemoteCommandFailed,
        `${where}: ${what} still runs after ${Math.round(seconds)} s (job ${dir}); it was left running`,
        opts.timeoutFix ??
          'raise dr.stepTimeoutMinutes or find out why it hangs; rerun with the same run id to wait for it again',
      );
    beat({ step: what, job: dir, seconds: Math.round(seconds) });
    if (signal?.aborted) throw signal.reason ?? new Error('cancelled');
    await new Promise((r) => setTimeout(r, 1000));
  }
}
