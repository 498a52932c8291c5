// How full each target is and when it fills. Pure: the capacity workflow and the tests call it.
//
// Growth per day is the least-squares slope of the cumulative stored bytes over the
// artifacts' completion times. Least squares rather than (last - first) / span: every
// backup counts, so one large full at either end of the window does not swing the rate, and
// a weekly-full staircase averages out to its true mean rate. The series holds only what is
// still stored (retention has removed the rest, and the catalog forgets deleted artifacts),
// so the slope is the rate at which kept bytes arrive — deletions are not subtracted. That
// makes "days until full" an early warning (never late) and, under steady retention, a
// pessimistic one; docs/capacity.md says so.
export const DAY_MS = 86_400_000;
export const FORECAST_DAYS = 30;

export interface StoredArtifact {
  cloud: string;
  component: string;
  completedAt: string;
  /** Bytes the artifact's folder holds on the target (sealed files, manifest, recipe, records). */
  bytes: number;
}

export interface TargetScan {
  target: string;
  type: string;
  location: string;
  totalBytes: number | null;
  freeBytes: number | null;
  artifacts: StoredArtifact[];
}

export interface ComponentCapacity {
  cloud: string;
  component: string;
  artifacts: number;
  storedBytes: number;
  growthBytesPerDay: number | null;
  forecast30dBytes: number | null;
}

export interface TargetCapacity {
  target: string;
  type: string;
  location: string;
  totalBytes: number | null;
  freeBytes: number | null;
  /** Every artifact on the target, all clouds: they all fill it. */
  artifacts: number;
  storedBytes: number;
  growthBytesPerDay: number | null;
  forecast30dBytes: number | null;
  daysUntilFull: number | null;
  fullAt: string | null;
  /** Why daysUntilFull is null, when it is. */
  note: string | null;
  components: ComponentCapacity[];
}

/** Least-squares slope of y over x; null with fewer than two distinct x. */
export function leastSquaresSlope(points: readonly { x: number; y: number }[]): number | null {
  if (points.length < 2) return null;
  const mx = points.reduce((s, p) => s + p.x, 0) / points.length;
  const my = points.reduce((s, p) => s + p.y, 0) / points.length;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.x - mx) * (p.y - my);
    sxx += (p.x - mx) ** 2;
  }
  return sxx === 0 ? null : sxy / sxx;
}

/** Bytes per day at which stored bytes arrived: slope of the cumulative sum over completion days. */
export function growthPerDay(artifacts: readonly { completedAt: string; bytes: number }[]): number | null {
  const sorted = [...artifacts].sort((a, b) => Date.parse(a.completedAt) - Date.parse(b.completedAt));
  if (!sorted.length) return null;
  const t0 = Date.parse(sorted[0]!.completedAt);
  let sum = 0;
  return leastSquaresSlope(sorted.map((a) => ({ x: (Date.parse(a.completedAt) - t0) / DAY_MS, y: (sum += a.bytes) })));
}

export function forecast(stored: number, growth: number | null, days = FORECAST_DAYS): number | null {
  return growth === null ? null : Math.round(stored + growth * days);
}

export function untilFull(
  freeBytes: number | null,
  growth: number | null,
  now: Date,
): { daysUntilFull: number | null; fullAt: string | null; note: string | null } {
  if (freeBytes === null)
    return { daysUntilFull: null, fullAt: null, note: 'size unknown: set capacityGiB for this target' };
  if (growth === null)
    return {
      daysUntilFull: null,
      fullAt: null,
      note: 'not enough history: growth needs backups on two different times',
    };
  if (growth <= 0) return { daysUntilFull: null, fullAt: null, note: 'not growing' };
  const days = freeBytes / growth;
  return { daysUntilFull: days, fullAt: new Date(now.getTime() + days * DAY_MS).toISOString(), note: null };
}

/** Per target and component: stored size, growth, 30-day forecast; per target: days until full. `cloud` limits the component rows. */
export function capacityReport(scans: readonly TargetScan[], now: Date, cloud?: string): TargetCapacity[] {
  return scans.map((s) => {
    const storedBytes = s.artifacts.reduce((n, a) => n + a.bytes, 0);
    const growth = growthPerDay(s.artifacts);
    const groups = new Map<string, StoredArtifact[]>();
    for (const a of s.artifacts) {
      if (cloud && a.cloud !== cloud) continue;
      const k = `${a.cloud}\u0000${a.component}`;
      (groups.get(k) ?? groups.set(k, []).get(k)!).push(a);
    }
    const components = [...groups.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([, list]) => {
        const stored = list.reduce((n, a) => n + a.bytes, 0);
        const g = growthPerDay(list);
        return {
          cloud: list[0]!.cloud,
          component: list[0]!.component,
          artifacts: list.length,
          storedBytes: stored,
          growthBytesPerDay: g,
          forecast30dBytes: forecast(stored, g),
        };
      });
    return {
      target: s.target,
      type: s.type,
      location: s.location,
      totalBytes: s.totalBytes,
      freeBytes: s.freeBytes,
      artifacts: s.artifacts.length,
      storedBytes,
      growthBytesPerDay: growth,
      forecast30dBytes: forecast(storedBytes, growth),
      ...untilFull(s.freeBytes, growth, now),
      components,
    };
  });
}

export function humanBytes(n: number | null): string {
  if (n === null) return '-';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let v = Math.abs(n);
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${n < 0 ? '-' : ''}${v.toFixed(i === 0 ? 0 : 1)} ${u[i]}`;
}

export function capacityTable(rows: readonly TargetCapacity[]): string {
  const head = ['TARGET', 'CLOUD', 'COMPONENT', 'ARTIFACTS', 'STORED', 'GROWTH/DAY', 'IN 30 DAYS', 'FREE', 'FULL IN'];
  const body: string[][] = [];
  for (const t of rows) {
    for (const c of t.components)
      body.push([
        t.target,
        c.cloud,
        c.component,
        String(c.artifacts),
        humanBytes(c.storedBytes),
        humanBytes(c.growthBytesPerDay),
        humanBytes(c.forecast30dBytes),
        '',
        '',
      ]);
    body.push([
      t.target,
      '(all)',
      '(target)',
      String(t.artifacts),
      humanBytes(t.storedBytes),
      humanBytes(t.growthBytesPerDay),
      humanBytes(t.forecast30dBytes),
      humanBytes(t.freeBytes),
      t.daysUntilFull === null ? (t.note ?? '-') : `${t.daysUntilFull.toFixed(1)} days (${t.fullAt!.slice(0, 10)})`,
    ]);
  }
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const fmt = (cols: string[]) =>
    cols
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [fmt(head), ...body.map(fmt)].join('\n') + '\n';
}
