// The live progress line: step n/m, bytes of the step under way from heartbeat details, the
// rate between samples, a bar only on a terminal, and when plain output prints again.
import { bytesOf, progressText, viewOf, worthPrinting, type ProgressSample } from '../../core/inspect/live-progress.js';

const sample = (
  at: number,
  details: Record<string, unknown> | null,
  attempt = 1,
  lastFailure: string | null = null,
): ProgressSample => ({
  at,
  phase: 'stream backup',
  steps: [
    { name: 'read table facts', state: 'done' },
    { name: 'stream backup', state: 'running' },
    { name: 'publish', state: 'pending' },
  ],
  activity: { name: 'mariadbStreamBackup', attempt, details, lastFailure },
});

test('bytes come from the first known key; the rate from two samples of the same step', () => {
  expect(bytesOf({ step: 'streaming', storedBytes: 10, streamBytes: 40 })).toEqual({ bytes: 10, of: null });
  expect(bytesOf({ bytes: 5, of: 20 })).toEqual({ bytes: 5, of: 20 });
  expect(bytesOf({ step: 'x' })).toEqual({ bytes: null, of: null });
  const a = viewOf(sample(1000, { storedBytes: 1024 * 1024 }), null);
  expect(a).toMatchObject({ step: 'stream backup', index: 2, total: 3, bytes: 1048576, rate: null });
  const b = viewOf(sample(3000, { storedBytes: 5 * 1024 * 1024 }), { view: a, at: 1000 });
  expect(b.rate).toBe(2 * 1024 * 1024);
  // no new heartbeat yet: the last rate stays rather than dropping to zero
  expect(viewOf(sample(4000, { storedBytes: 5 * 1024 * 1024 }), { view: b, at: 3000 }).rate).toBe(b.rate);
});

test('the line: a bar and percentage on a terminal when the total is known; the retry cause after the first attempt', () => {
  const v = viewOf(
    sample(1000, { bytes: 512 * 1024 * 1024, of: 1024 * 1024 * 1024 }, 2, '[SshConnectionLost] link dropped'),
    null,
  );
  expect(progressText(v, true)).toBe(
    'step 2/3 stream backup  [############............] 512.0 MiB of 1.0 GiB (50 %)  attempt 2 after: [SshConnectionLost] link dropped',
  );
  expect(progressText(v, false)).toBe(
    'step 2/3 stream backup  512.0 MiB of 1.0 GiB (50 %)  attempt 2 after: [SshConnectionLost] link dropped',
  );
});

test('plain output: a line per step change, then at most one per interval while bytes move', () => {
  const a = viewOf(sample(0, { storedBytes: 1 }), null);
  expect(worthPrinting(a, null, 0)).toBe(true);
  const b = viewOf(sample(1000, { storedBytes: 2 }), { view: a, at: 0 });
  expect(worthPrinting(b, { view: a, at: 0 }, 1000)).toBe(false);
  expect(worthPrinting(b, { view: a, at: 0 }, 6000)).toBe(true);
  expect(worthPrinting({ ...b, step: 'publish', index: 3 }, { view: a, at: 0 }, 1000)).toBe(true);
});
