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

export function spawnStage(
  name: string,
  file: string,
  args: string[],
  opts: { signal?: AbortSignal; fd3?: string } = {},
): ProcessStage {
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

/**
 * Watches the parts of a multi-process pipeline. The first part to fail stops all others
 * (no stage is left waiting on a dead pipe) and is remembered: it is the root cause, while
 * the failures it provokes downstream (EPIPE, "write failed") are only symptoms.
 */
export class PipelineGuard {
  readonly abort = new AbortController();
  first: { part: string; error: unknown } | undefined;

  private readonly streams: (Readable | Writable)[] = [];

  constructor(outer?: AbortSignal) {
    if (outer?.aborted) this.abort.abort();
    else outer?.addEventListener('abort', () => this.abort.abort(), { once: true });
    // A stream parked waiting for 'drain' from a killed process never hears of it: destroy
    // every stream of the pipeline so each pipeline() settles at once.
    this.abort.signal.addEventListener(
      'abort',
      () => {
        for (const s of this.streams) s.destroy();
      },
      { once: true },
    );
  }

  /** Streams to tear down when any part fails or the activity is cancelled. */
  track(...streams: (Readable | Writable)[]): void {
    this.streams.push(...streams);
    if (this.abort.signal.aborted) for (const s of streams) s.destroy();
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  watch<T>(part: string, p: Promise<T>): Promise<T> {
    return p.catch((error: unknown) => {
      this.fail(part, error);
      throw error;
    });
  }

  /** A stage whose process ended badly counts as a failure of that part. An absent (optional) stage counts as a clean exit. */
  watchStage(
    stage: ProcessStage | undefined,
  ): Promise<{ code: number | undefined; stderr: string; signal: string | undefined }> {
    if (!stage) return Promise.resolve({ code: 0, stderr: '', signal: undefined });
    return stage.exit.then((r) => {
      if (r.code !== 0 && !this.abort.signal.aborted) this.fail(stage.name, new Error(r.stderr));
      return r;
    });
  }

  /** A remote command that exits non-zero is a failure of that part too (not only a dropped link). */
  watchExit<T extends { code: number | null }>(part: string, p: Promise<T>): Promise<T> {
    return this.watch(part, p).then((r) => {
      if (r.code !== 0) this.fail(part, new Error(`exit ${r.code}`));
      return r;
    });
  }

  private fail(part: string, error: unknown): void {
    if (!this.first && !this.abort.signal.aborted) this.first = { part, error };
    this.abort.abort();
  }
}
