// Timed shell pipelines on the lab: on the worker side (bash), on a controller over the same
// SSH path osbackup uses (OpenSSH client, lab key, pinned host key), or inside a host's
// network namespace.
import { execa } from 'execa';
import type { HostConfig } from '../../config/schema.js';

export async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { seconds: (performance.now() - t0) / 1000, value };
}

/** Runs a bash script locally; a failure throws with the script's stderr tail. */
export async function bash(script: string, env: Record<string, string> = {}): Promise<string> {
  const r = await execa('bash', ['-c', `set -euo pipefail\n${script}`], { env, reject: false });
  if (r.exitCode !== 0)
    throw new Error(`bench step failed (${r.exitCode}): ${script.split('\n')[0]}…\n${r.stderr.slice(-2000)}`);
  return r.stdout;
}

/** `ssh …` argv prefix for a lab host: its key, its address, the cipher osbackup negotiates. */
export function sshArgv(host: HostConfig, knownHosts: string): string[] {
  return [
    'ssh',
    '-c',
    'aes256-gcm@openssh.com',
    '-i',
    host.keyFile,
    '-p',
    String(host.port),
    '-o',
    'BatchMode=yes',
    '-o',
    `UserKnownHostsFile=${knownHosts}`,
    '-o',
    'StrictHostKeyChecking=yes',
    `${host.user}@${host.address}`,
  ];
}

export const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
export const sshCmd = (host: HostConfig, knownHosts: string) => sshArgv(host, knownHosts).map(q).join(' ');
