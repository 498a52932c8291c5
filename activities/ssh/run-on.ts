// One way to run an operator-configured command "where it belongs": on the worker (execa) or on a
// host of the cloud over SSH — services.<svc>.runOn and dr.runOn both mean this.
import { execa } from 'execa';
import type { Env } from '../deps.js';
import { cancellationSignal } from '../heartbeat.js';
import { shJoin } from './quote.js';

export interface RunOnResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs argv on `where` ("worker" or a host key of the cloud); never throws for a non-zero exit. */
export async function runOn(env: Env, cloud: string, where: string, argv: readonly string[]): Promise<RunOnResult> {
  if (where === 'worker') {
    const r = await execa(argv[0]!, argv.slice(1), {
      reject: false,
      cancelSignal: cancellationSignal(),
      stdin: 'ignore',
    });
    return {
      code: r.exitCode ?? null,
      stdout: String(r.stdout),
      stderr: String(r.stderr || (r.failed && r.exitCode === undefined ? r.message : '')),
    };
  }
  const { target } = env.host(cloud, where);
  const r = await env.deps.ssh.run(target, shJoin(argv), { signal: cancellationSignal() });
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}
