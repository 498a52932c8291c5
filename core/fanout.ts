// Bounded fan-out for workflows: at most `limit` calls in flight, started in input order.
// Pure promise plumbing (no timers, no I/O): deterministic under Temporal's replay, since
// every await resolves on an activity result.

export interface FanoutStats {
  /** The most calls that were in flight at once (proves the bound). */
  maxInFlight: number;
}

export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
  stats: FanoutStats = { maxInFlight: 0 },
): Promise<R[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`fan-out limit must be a positive integer (got ${limit})`);
  const out = new Array<R>(items.length);
  let next = 0;
  let inFlight = 0;
  const runner = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, inFlight);
      try {
        out[i] = await fn(items[i]!, i);
      } finally {
        inFlight--;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, runner));
  return out;
}
