import { mapBounded } from '../../workflows/lib/fanout.js';
import { isOurs, marks, snapshotName, serverImageName } from '../../workflows/lib/openstack.js';
import { openstackCloudSchema } from '../../config/openstack-schema.js';

describe('mapBounded', () => {
  test('never more than the limit in flight, results in input order, every item once', async () => {
    let live = 0;
    const seen: number[] = [];
    const stats = { maxInFlight: 0 };
    const out = await mapBounded(Array.from({ length: 25 }, (_, i) => i), 4, async (x) => {
      live++;
      expect(live).toBeLessThanOrEqual(4);
      seen.push(x);
      await new Promise((r) => setTimeout(r, (x * 7) % 5));
      live--;
      return x * 2;
    }, stats);
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
    expect(snapshotName('v-1', '2026-11-30T04:00:00.000Z')).toEqual({ name: 'backup_v-1_20261130', description: 'Scheduled backup 20261130 (osbackup)' });
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
