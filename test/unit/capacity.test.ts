import {
  capacityReport,
  capacityTable,
  forecast,
  growthPerDay,
  leastSquaresSlope,
  untilFull,
  type TargetScan,
} from '../../core/capacity/capacity.js';

const day = (d: number, h = 0) => new Date(Date.UTC(2026, 10, 1 + d, h)).toISOString();

describe('capacity maths', () => {
  test('least-squares slope', () => {
    expect(
      leastSquaresSlope([
        { x: 0, y: 1 },
        { x: 1, y: 3 },
        { x: 2, y: 5 },
      ]),
    ).toBe(2);
    // x = 0,1,3; y = 10,30,60: Sxy = 690/9, Sxx = 42/9 → 115/7
    expect(
      leastSquaresSlope([
        { x: 0, y: 10 },
        { x: 1, y: 30 },
        { x: 3, y: 60 },
      ]),
    ).toBeCloseTo(115 / 7, 12);
    expect(leastSquaresSlope([{ x: 1, y: 1 }])).toBeNull();
    expect(
      leastSquaresSlope([
        { x: 1, y: 1 },
        { x: 1, y: 5 },
      ]),
    ).toBeNull();
  });

  test('growth is the slope of the cumulative stored bytes over completion days', () => {
    expect(
      growthPerDay([
        { completedAt: day(2), bytes: 100 },
        { completedAt: day(0), bytes: 100 },
        { completedAt: day(1), bytes: 100 },
      ]),
    ).toBe(100);
    expect(
      growthPerDay([
        { completedAt: day(0), bytes: 10 },
        { completedAt: day(1), bytes: 20 },
        { completedAt: day(3), bytes: 30 },
      ]),
    ).toBeCloseTo(115 / 7, 12);
    // twelve hours apart: 50 bytes in half a day is 100 a day
    expect(
      growthPerDay([
        { completedAt: day(0), bytes: 1000 },
        { completedAt: day(0, 12), bytes: 50 },
      ]),
    ).toBe(100);
    expect(growthPerDay([])).toBeNull();
  });

  test('forecast and days until full', () => {
    expect(forecast(300, 100)).toBe(3300);
    expect(forecast(300, null)).toBeNull();
    const now = new Date(day(10));
    expect(untilFull(1000, 100, now)).toEqual({ daysUntilFull: 10, fullAt: day(20), note: null });
    expect(untilFull(null, 100, now).note).toMatch(/capacityGiB/);
    expect(untilFull(1000, null, now).note).toMatch(/not enough history/);
    expect(untilFull(1000, 0, now).note).toBe('not growing');
  });

  test('per target and component; the target total counts every cloud', () => {
    const scan: TargetScan = {
      target: 'local',
      type: 'local',
      location: '/repo',
      totalBytes: 10_000,
      freeBytes: 6_000,
      artifacts: [
        { cloud: 'a', component: 'database', completedAt: day(0), bytes: 100 },
        { cloud: 'a', component: 'database', completedAt: day(1), bytes: 100 },
        { cloud: 'a', component: 'database', completedAt: day(2), bytes: 100 },
        { cloud: 'a', component: 'control-plane', completedAt: day(0), bytes: 10 },
        { cloud: 'a', component: 'control-plane', completedAt: day(2), bytes: 10 },
        { cloud: 'b', component: 'database', completedAt: day(1), bytes: 180 },
      ],
    };
    const [t] = capacityReport([scan], new Date(day(3)));
    expect(t!.components).toEqual([
      {
        cloud: 'a',
        component: 'control-plane',
        artifacts: 2,
        storedBytes: 20,
        growthBytesPerDay: 5,
        forecast30dBytes: 170,
      },
      {
        cloud: 'a',
        component: 'database',
        artifacts: 3,
        storedBytes: 300,
        growthBytesPerDay: 100,
        forecast30dBytes: 3300,
      },
      {
        cloud: 'b',
        component: 'database',
        artifacts: 1,
        storedBytes: 180,
        growthBytesPerDay: null,
        forecast30dBytes: null,
      },
    ]);
    // all six: x = 0,0,1,1,2,2 (sorted by time; ties keep order) y cumulative = 100,110,210,390,490,500
    // x̄ = 1, ȳ = 300; Sxy = (-1)(-200)+(-1)(-190)+0+0+(1)(190)+(1)(200) = 780; Sxx = 4 → 195/day
    expect(t!.storedBytes).toBe(500);
    expect(t!.growthBytesPerDay).toBe(195);
    expect(t!.forecast30dBytes).toBe(500 + 30 * 195);
    expect(t!.daysUntilFull).toBeCloseTo(6000 / 195, 12);
    const [only] = capacityReport([scan], new Date(day(3)), 'b');
    expect(only!.components.map((c) => c.cloud)).toEqual(['b']);
    expect(only!.storedBytes).toBe(500);
    expect(capacityTable([t!])).toMatch(
      /local\s+\(all\)\s+\(target\)\s+6\s+500 B\s+195 B\s+6\.2 KiB\s+5\.9 KiB\s+30\.8 days/,
    );
  });
});
