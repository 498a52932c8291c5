// What `--wait` and `osbackup watch` show while a run works: the runbook step n/m from the
// workflow's progress query, and for the activity under way its bytes, total and rate from its
// heartbeat details. Pure: the client samples, this decides what a line says.
import { humanBytes } from '../capacity/capacity.js';

export interface ProgressSample {
  /** Client clock, ms. */
  at: number;
  phase: string;
  steps: { name: string; state: 'done' | 'running' | 'pending' | 'failed'; detail?: string }[];
  /** The activity running now (the first pending one), with its heartbeat details. */
  activity: {
    name: string;
    attempt: number;
    details: Record<string, unknown> | null;
    lastFailure: string | null;
  } | null;
}

export interface View {
  step: string;
  index: number;
  total: number;
  bytes: number | null;
  of: number | null;
  /** Bytes per second since the previous sample of the same step. */
  rate: number | null;
  attempt: number;
  lastFailure: string | null;
}

// The names the activities heartbeat their byte counts under, most telling first.
const BYTE_KEYS = ['storedBytes', 'bytes', 'streamBytes', 'compressedBytes', 'reread', 'originalBytes'];

export function bytesOf(details: Record<string, unknown> | null): { bytes: number | null; of: number | null } {
  if (!details) return { bytes: null, of: null };
  const key = BYTE_KEYS.find((k) => typeof details[k] === 'number');
  return { bytes: key ? (details[key] as number) : null, of: typeof details.of === 'number' ? details.of : null };
}

export function viewOf(s: ProgressSample, prev: { view: View; at: number } | null): View {
  const running = s.steps.findIndex((x) => x.state === 'running');
  const index = running >= 0 ? running + 1 : s.steps.filter((x) => x.state === 'done').length;
  const step = running >= 0 ? s.steps[running]!.name : s.phase;
  const { bytes, of } = bytesOf(s.activity?.details ?? null);
  let rate: number | null = null;
  if (
    bytes !== null &&
    prev &&
    prev.view.step === step &&
    prev.view.bytes !== null &&
    s.at > prev.at &&
    bytes >= prev.view.bytes
  )
    rate = ((bytes - prev.view.bytes) * 1000) / (s.at - prev.at);
  // heartbeats arrive every ~2 s: between them keep the last rate rather than showing 0 B/s
  if (rate === 0) rate = prev?.view.rate ?? null;
  return {
    step,
    index,
    total: s.steps.length,
    bytes,
    of,
    rate,
    attempt: s.activity?.attempt ?? 1,
    lastFailure: s.activity?.lastFailure ?? null,
  };
}

function bar(fraction: number, width: number): string {
  const full = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}]`;
}

/** One line; a terminal redraws it in place, a log gets it when it says something new. */
export function progressText(v: View, tty: boolean): string {
  const parts = [`step ${v.index}/${v.total} ${v.step}`];
  if (v.bytes !== null) {
    const pct = v.of ? Math.min(1, v.bytes / v.of) : null;
    parts.push(
      `${pct !== null && tty ? `${bar(pct, 24)} ` : ''}${humanBytes(v.bytes)}${v.of ? ` of ${humanBytes(v.of)}${pct !== null ? ` (${(pct * 100).toFixed(0)} %)` : ''}` : ''}${v.rate !== null ? ` at ${humanBytes(v.rate)}/s` : ''}`,
    );
  }
  if (v.attempt > 1) parts.push(`attempt ${v.attempt}${v.lastFailure ? ` after: ${v.lastFailure}` : ''}`);
  return parts.join('  ');
}

/** Plain output prints a line when the step or the attempt changes, or bytes moved and `every` ms passed. */
export function worthPrinting(v: View, last: { view: View; at: number } | null, now: number, everyMs = 5000): boolean {
  if (!last) return true;
  if (v.step !== last.view.step || v.index !== last.view.index || v.attempt !== last.view.attempt) return true;
  return v.bytes !== last.view.bytes && now - last.at >= everyMs;
}
