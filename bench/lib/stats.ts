// Repetitions and medians: every figure in results.md is the median of its runs, with the
// spread shown so a noisy run is visible instead of hidden.
export interface Sample {
  seconds: number;
  /** Bytes of the logical data moved (the xbstream size), for throughput. */
  bytes?: number;
  extra?: Record<string, number>;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** `fn` run `reps` times in a row: the median and the longest, in ms. */
export async function timeMs(fn: () => Promise<unknown>, reps: number): Promise<{ median: number; max: number }> {
  const xs: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    xs.push(performance.now() - t0);
  }
  return { median: median(xs), max: Math.max(...xs) };
}

export interface Summary {
  name: string;
  runs: number;
  seconds: number;
  minSeconds: number;
  maxSeconds: number;
  mbps: number | null;
  extra: Record<string, number>;
}

export function summarize(name: string, samples: Sample[]): Summary {
  const secs = samples.map((s) => s.seconds);
  const withBytes = samples.filter((s) => s.bytes !== undefined);
  const extraKeys = [...new Set(samples.flatMap((s) => Object.keys(s.extra ?? {})))];
  return {
    name,
    runs: samples.length,
    seconds: median(secs),
    minSeconds: Math.min(...secs),
    maxSeconds: Math.max(...secs),
    mbps: withBytes.length ? median(withBytes.map((s) => s.bytes! / 1e6 / s.seconds)) : null,
    extra: Object.fromEntries(
      extraKeys.map((k) => [k, median(samples.map((s) => s.extra?.[k]).filter((v): v is number => v !== undefined))]),
    ),
  };
}

export async function repeat(reps: number, label: string, run: (rep: number) => Promise<Sample>): Promise<Sample[]> {
  const out: Sample[] = [];
  for (let i = 0; i < reps; i++) {
    const s = await run(i);
    out.push(s);
    const rate = s.bytes !== undefined ? `, ${(s.bytes / 1e6 / s.seconds).toFixed(1)} MB/s` : '';
    log(`${label} #${i + 1}: ${s.seconds.toFixed(2)} s${rate}`);
  }
  return out;
}

export function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

export const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : NaN);
