// The worker's keepalive heartbeats a running activity that sends nothing itself, repeating the
// details it last sent (its resume point); and the byte readers refuse to run in an activity
// scheduled without a heartbeat timeout when the integration suite asks them to.
import { MockActivityEnvironment } from '@temporalio/testing';
import { assertHeartbeated, requireHeartbeatTimeouts } from '../../activities/heartbeat.js';
import { keepalive } from '../../activities/keepalive.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a silent activity is heartbeaten every period; the keepalive repeats its last details', async () => {
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 600, heartbeatDetails: { finished: ['a'] } });
  const beats: unknown[] = [];
  env.on('heartbeat', (d: unknown) => beats.push(d));
  const intercept = keepalive(env.context, 200).inbound!.execute!;
  const result = await env.run(() =>
    intercept({ args: [], headers: {} }, async () => {
      await sleep(700); // silent: only the keepalive speaks, with the earlier attempt's resume point
      env.context.heartbeat({ finished: ['a', 'b'] });
      await sleep(700); // silent again: its own last details are repeated
      return 'done';
    }),
  );
  expect(result).toBe('done');
  const i = beats.findIndex((b) => JSON.stringify(b) === JSON.stringify({ finished: ['a', 'b'] }));
  expect(i).toBeGreaterThan(1); // at least two keepalive beats before the activity's own
  expect(beats.slice(0, i).every((b) => JSON.stringify(b) === JSON.stringify({ finished: ['a'] }))).toBe(true);
  expect(beats.length - i - 1).toBeGreaterThanOrEqual(2);
  expect(beats.slice(i).every((b) => JSON.stringify(b) === JSON.stringify({ finished: ['a', 'b'] }))).toBe(true);
  // once the activity returned, nothing more is sent
  const n = beats.length;
  await sleep(500);
  expect(beats).toHaveLength(n);
});

test('an activity without a heartbeat timeout is left alone', async () => {
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: undefined });
  const beats: unknown[] = [];
  env.on('heartbeat', (d: unknown) => beats.push(d));
  await env.run(() => keepalive(env.context, 100).inbound!.execute!({ args: [], headers: {} }, () => sleep(400)));
  expect(beats).toEqual([]);
});

test('reading bytes without a heartbeat timeout is refused when required, allowed with one', async () => {
  requireHeartbeatTimeouts(true);
  try {
    await expect(
      new MockActivityEnvironment({ heartbeatTimeoutMs: undefined, activityType: 'someActivity' }).run(async () =>
        assertHeartbeated('hashing x'),
      ),
    ).rejects.toThrow(/hashing x in activity someActivity, which was scheduled without a heartbeat timeout/);
    await new MockActivityEnvironment({ heartbeatTimeoutMs: 15_000 }).run(async () => assertHeartbeated('hashing x'));
  } finally {
    requireHeartbeatTimeouts(false);
  }
  // off (the default): no check
  await new MockActivityEnvironment({ heartbeatTimeoutMs: undefined }).run(async () => assertHeartbeated('hashing x'));
});
