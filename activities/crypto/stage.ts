// A pipeline stage backed by a child process: bytes in, bytes out, and an exit status.
import type { Readable, Writable } from 'node:stream';
import { execa } from 'execa';

export interface ProcessStage {
  name: string;
  stdin: Writable;
  stdout: Readable;
  /** Resolves (never rejects) when the process ends. */
  exit: Promise<{ code: number | undefined; stderr: string; signal: string | undefined }>;
}

export function spawnStage(name: string, file: string, args: string[], opts: { signal?: AbortSignal; fd3?: string } = {}): ProcessStage {
  const p = execa(file, args, {
    stdio: ['pipe', 'pipe', 'pipe', opts.fd3 !== undefined ? 'pipe' : 'ignore'],
    buffer: { stdout: false, stderr: true },
    cancelSignal: opts.signal,
    reject: false,
    stripFinalNewline: true,
  });
  if (opts.fd3 !== undefined) {
    const fd3 = p.stdio[3] as unknown as Writable;
    fd3.on('error', () => undefined); // the process may exit before reading; its status says why
    fd3.end(opts.fd3);
  }
  // a stage that dies early breaks the pipe; the exit status carries the reason, not EPIPE
  p.stdin!.on('error', () => undefined);
  const exit = p.then((r) => ({ code: r.exitCode, stderr: String(r.stderr ?? ''), signal: r.signal ?? undefined }));
  return { name, stdin: p.stdin!, stdout: p.stdout!, exit };
}
