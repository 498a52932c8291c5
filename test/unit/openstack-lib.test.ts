import { mapBounded } from '../../core/fanout.js';
import fc from 'fast-check';
import { isOurs, marks, planCloudRetention, snapshotName, serverImageName } from '../../core/openstack/resources.js';
import { openstackCloudSchema } from '../../config/openstack-schema.js';

describe('mapBounded', () => {
  test('never more than the limit in flight, results in input order, every item once', async () => {
    let live = 0;
    const seen: number[] = [];
    const stats = { maxInFlight: 0 };
    const out = await mapBounded(
      Array.from({ length: 25 }, (_, i) => i),
      4,
      async (x) => {
        live++;
        expect(live).toBeLessThanOrEqual(4);
        seen.push(x);
        await new Promise((r) => setTimeout(r, (x * 7) % 5));
        live--;
        return x * 2;
      },
      stats,
    );
    expect(out).toEqual(Array.from({ length: 25 }, (_, i) => i * 2));
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(stats.maxInFlight).toBe(4);
  });
  test('fewer items than the limit; a bad limit is refused', async () => {
    const stats = { maxInFlight: 0 };
    expect(await mapBounded([1, 2], 10, async (x) => x, stats)).toEqual([1, 2]);
    expect(stats.maxInFlight).toBe(2);
    await expect(mapBounded([1], 0, async (x) => x)).rejects.toThrow(/positive integer/);
  });
});

describe('cloud-side names and marks', () => {
  test("the seed's names; only resources marked for this cloud are ours", () => {
    expect(snapshotName('v-1', '2026-11-30T04:00:00.000Z')).toEqual({
      name: 'backup_v-1_20261130',
      description: 'Scheduled backup 20261130 (osbackup)',
    });
    expect(serverImageName('web', '2026-01-02T23:59:59Z')).toBe('backup_web_20260102');
    const m = marks('prod', 'run-1', '2026-11-30T04:00:00.000Z');
    expect(isOurs(m, 'prod')).toBe(true);
    expect(isOurs(m, 'other')).toBe(false);
    expect(isOurs({ osbackup: 'yes', osbackup_cloud: 'prod' }, 'prod')).toBe(false);
    expect(isOurs(undefined, 'prod')).toBe(false);
  });
});

describe('openstack config section', () => {
  test('defaults, and openrc excludes clouds.yaml', () => {
    const c = openstackCloudSchema.parse({ cloudsYaml: '/etc/openstack/clouds.yaml', cloud: 'x' });
    expect(c.volumes).toEqual({ concurrency: 8, statuses: ['in-use'], stuckAfterMinutes: 30, cinderBackup: false });
    expect(c.images.concurrency).toBe(2);
    expect(openstackCloudSchema.safeParse({ openrc: '/r.sh', cloud: 'x' }).success).toBe(false);
    expect(openstackCloudSchema.safeParse({ password: 'inline' }).success).toBe(false);
  });
});

describe('cloud-side retention plan', () => {
  const now = new Date('2026-11-30T00:00:00Z');
  const day = 86_400_000;
  const ours = (run: string) => marks('prod', run, 'x');
  const snap = (id: string, source: string, daysAgo: number, metadata: Record<string, string> | undefined) => ({
    kind: 'volume-snapshot' as const,
    id,
    source,
    createdAt: new Date(now.getTime() - daysAgo * day).toISOString(),
    metadata,
  });

  test('keeps the newest N per source and the young ones; removes only our expired ones', () => {
    const plan = planCloudRetention(
      [
        snap('a1', 'vA', 1, ours('r1')),
        snap('a2', 'vA', 10, ours('r2')),
        snap('a3', 'vA', 20, ours('r3')),
        snap('a4', 'vA', 30, ours('r4')),
        snap('b1', 'vB', 40, ours('r5')),
        snap('op', 'vA', 90, { purpose: 'operator' }),
        snap('other', 'vA', 90, marks('staging', 'r', 'x')),
      ],
      'prod',
      { keepLast: 2, keepWithinMs: 14 * day },
      now,
    );
    expect(plan.remove.map((r) => r.id).sort()).toEqual(['a3', 'a4']);
    expect(plan.keep.map((r) => r.id).sort()).toEqual(['a1', 'a2', 'b1']);
    expect(plan.foreign).toBe(2);
  });

  test('copies stamped in the same second as the last of the N newest are all kept: which is newer cannot be told', () => {
    const at = (id: string, createdAt: string) => ({
      kind: 'image' as const,
      id,
      source: 'srv',
      createdAt,
      metadata: ours(id),
    });
    const plan = planCloudRetention(
      [at('i1', '2026-11-01T08:00:05Z'), at('i2', '2026-11-01T08:00:05Z'), at('i3', '2026-11-01T08:00:04Z')],
      'prod',
      { keepLast: 1, keepWithinMs: 0 },
      now,
    );
    expect(plan.keep.map((r) => r.id).sort()).toEqual(['i1', 'i2']);
    expect(plan.keep.find((r) => r.reason.includes('same second'))).toBeDefined();
    expect(plan.remove.map((r) => r.id)).toEqual(['i3']);
  });

  test('property: the newest copy of each source is never removed while keepLast ≥ 1', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ id: fc.uuid(), source: fc.constantFrom('v1', 'v2'), seconds: fc.integer({ min: 0, max: 5 }) }),
          { minLength: 1, maxLength: 20 },
        ),
        fc.integer({ min: 1, max: 3 }),
        (items, keepLast) => {
          const res = items.map((x) => ({
            kind: 'volume-snapshot' as const,
            id: x.id,
            source: x.source,
            createdAt: new Date(now.getTime() - 30 * day - x.seconds * 1000).toISOString(),
            metadata: ours('r'),
          }));
          const removed = new Set(
            planCloudRetention(res, 'prod', { keepLast, keepWithinMs: 0 }, now).remove.map((r) => r.id),
          );
          for (const src of ['v1', 'v2']) {
            const mine = items.filter((x) => x.source === src);
            const newest = Math.min(...mine.map((x) => x.seconds));
            for (const x of mine.filter((m) => m.seconds === newest)) expect(removed.has(x.id)).toBe(false);
          }
        },
      ),
    );
  });

  test('property: an unmarked or foreign resource is never removed, whatever the policy', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            id: fc.uuid(),
            source: fc.constantFrom('v1', 'v2', 'v3'),
            days: fc.integer({ min: 0, max: 400 }),
            mark: fc.constantFrom('ours', 'none', 'other'),
          }),
          { maxLength: 40 },
        ),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 0, max: 60 }),
        (items, keepLast, keepDays) => {
          const res = items.map((x) =>
            snap(
              x.id,
              x.source,
              x.days,
              x.mark === 'ours' ? ours('r') : x.mark === 'other' ? marks('other', 'r', 'x') : undefined,
            ),
          );
          const plan = planCloudRetention(res, 'prod', { keepLast, keepWithinMs: keepDays * day }, now);
          const removed = new Set(plan.remove.map((r) => r.id));
          for (const x of items) if (x.mark !== 'ours') expect(removed.has(x.id)).toBe(false);
          expect(plan.remove.length + plan.keep.length + plan.foreign).toBe(items.length);
        },
      ),
    );
  });
});
