// Commands are built as argument arrays and quoted here, in one place.
import type { HostConfig } from '../../config/schema.js';

const SAFE = /^[A-Za-z0-9_\/.,:=@%+^-]+$/;

export function shQuote(arg: string): string {
  if (arg === '') return "''";
  return SAFE.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function shJoin(argv: readonly string[]): string {
  return argv.map(shQuote).join(' ');
}

/**
 * Wraps a POSIX shell script so it runs where the service lives: inside the container on a
 * Kolla host (`docker exec -i <c> sh -c …`), or on the host itself.
 */
export function inServiceContext(
  host: Pick<HostConfig, 'containerRuntime'>,
  container: string,
  script: string,
  opts: { user?: string } = {},
): string {
  if (host.containerRuntime === 'none') return `sh -c ${shQuote(script)}`;
  // Kolla's service containers run as the service user; restoring owners needs root (-u 0)
  return shJoin([
    host.containerRuntime,
    'exec',
    '-i',
    ...(opts.user ? ['-u', opts.user] : []),
    container,
    'sh',
    '-c',
    script,
  ]);
}
