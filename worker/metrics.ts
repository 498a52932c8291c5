// The collector behind GET /metrics: reads the catalog of every target, the run journals, the
// drill records and the binlog archive's progress from the repository, asks Temporal for tier
// runs that were killed without running their own failure handling, and turns it all into
// prom-client metrics (core/metrics/metrics.ts decides the values). One collection at a time;
// scrapes inside metrics.cacheSeconds get the last result, so a scrape never hammers S3.
import type { Client } from '@temporalio/client';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { Catalog } from '../activities/catalog/catalog.js';
import { readRunJournals, recordFailures } from '../activities/tiers/run-journal.js';
import { Env, type Deps } from '../activities/deps.js';
import { redact } from '../activities/redact.js';
import { targetNames, type TargetStore } from '../activities/storage/target.js';
import type { Config } from '../config/schema.js';
import type { MetricsConfig } from '../config/metrics-schema.js';
import { progressKey } from '../core/pitr/segments.js';
import type { CatalogEntry } from '../core/catalog/catalog.js';
import { DRILL_RECORD_FILE, drillsPrefix, parseDrillRecord, type DrillRecord } from '../core/dr/record.js';
import { artifactDir, MANIFEST_FILE } from '../core/manifest/manifest.js';
import {
  calendarMaxGapSeconds,
  METRICS,
  metricSamples,
  TIER_NAMES,
  type CloudMetricsInput,
  type MetricName,
  type MetricsInput,
} from '../core/metrics/metrics.js';
import { tierRunFromWorkflowId, type RunEndStatus, type RunFailure } from '../core/tiers/run-journal.js';
import { CLOUD, TIER } from '../workflows/search-attributes.js';
import { servedQueues, type ServedQueues } from '../config/task-queues.js';

const STATUS: Record<string, RunEndStatus> = {
  FAILED: 'Failed',
  TIMED_OUT: 'TimedOut',
  TERMINATED: 'Terminated',
  CANCELLED: 'Canceled',
};
const ENTRY = {
  daily: 'daily',
  weekly: 'weekly',
  monthly: 'monthly',
  'control-plane': 'controlPlane',
  dump: 'dump',
} as const;

/** The clouds' tiers as the schedules run them: targets and the longest gap between runs. */
export function cloudInputs(config: Config, only?: readonly string[]): CloudMetricsInput[] {
  return Object.entries(config.clouds)
    .filter(([name]) => !only || only.includes(name))
    .map(([name, c]) => ({
      name,
      rpoTargetSeconds: c.database.binlog.rpoTargetSeconds,
      tiers: TIER_NAMES
        // the control-plane tier is not scheduled for a cloud with nothing to back up (client/lib/schedules.ts)
        .filter((tier) => tier !== 'control-plane' || c.controlPlane || c.rabbitmq)
        // dumps are a tier only where their schedule is enabled (off by default: config/schedule-schema.ts)
        .filter((tier) => tier !== 'dump' || c.schedules.entries.dump.enabled)
        .map((tier) => {
          const entry = c.schedules.entries[ENTRY[tier]];
          return {
            tier,
            targets: c.tiers[tier === 'control-plane' || tier === 'dump' ? 'daily' : tier]?.targets ?? [
              config.repository.name,
            ],
            intervalSeconds: entry.enabled ? calendarMaxGapSeconds(entry.calendar) : null,
          };
        }),
    }));
}

export class MetricsCollector {
  readonly registry = new Registry();
  private readonly env: Env;
  private readonly catalogs = new Map<string, Catalog>();
  private readonly metrics = new Map<MetricName, Gauge | Counter>();
  /** Drill records never change once written: parsed once per key and size. */
  private readonly drillCache = new Map<string, DrillRecord | null>();
  private last: { at: number; text: string } | null = null;
  private running: Promise<string> | null = null;

  constructor(
    deps: Deps,
    private readonly settings: MetricsConfig,
    /** Temporal, for runs killed outside workflow code; null: the journal alone. */
    private readonly temporal: (() => Promise<Client>) | null,
    private readonly log: (line: string) => void = (l) => console.error(l),
    /** The clouds and queues of this worker: a site's worker reports its own clouds only. */
    private readonly served: ServedQueues = servedQueues(deps.config),
  ) {
    this.env = new Env(deps);
    for (const [name, m] of Object.entries(METRICS) as [MetricName, (typeof METRICS)[MetricName]][]) {
      const opts = { name, help: m.help, labelNames: [...m.labels], registers: [this.registry] };
      this.metrics.set(name, m.type === 'counter' ? new Counter(opts) : new Gauge(opts));
    }
    collectDefaultMetrics({ register: this.registry });
  }

  private get config(): Config {
    return this.env.config;
  }

  /** The exposition text: from memory inside cacheSeconds, else one (shared) collection. */
  async scrape(nowMs = Date.now()): Promise<string> {
    if (this.last && nowMs - this.last.at < this.settings.cacheSeconds * 1000) return this.last.text;
    if (!this.running) {
      this.running = this.collect()
        .then(async () => {
          const text = await this.registry.metrics();
          this.last = { at: Date.now(), text };
          return text;
        })
        .finally(() => (this.running = null));
    }
    return this.running;
  }

  private catalogOf(t: TargetStore): Catalog {
    let c = this.catalogs.get(t.name);
    if (!c) this.catalogs.set(t.name, (c = new Catalog(t)));
    return c;
  }

  private problem(what: string, e: unknown): void {
    this.log(`metrics: ${what}: ${redact(e instanceof Error ? e.message : String(e))}`);
  }

  async collect(): Promise<void> {
    const t0 = Date.now();
    let errors = 0;
    const input: MetricsInput = {
      nowMs: t0,
      clouds: cloudInputs(this.config, this.served.clouds),
      rows: [],
      targets: [],
      journals: [],
      drills: [],
      binlog: [],
      drillMaxAgeSeconds: this.settings.drillMaxAgeDays * 86_400,
    };
    for (const name of targetNames(this.config)) {
      try {
        const t = await this.env.target(name);
        input.rows.push(...(await this.catalogOf(t).list()));
        const cap = await t.capacity();
        input.targets.push({ name, up: true, ...cap });
      } catch (e) {
        errors++;
        this.problem(`target "${name}" could not be read`, e);
        input.targets.push({ name, up: false, totalBytes: null, freeBytes: null });
      }
    }
    const repo = this.env.primary;
    if (this.temporal) {
      try {
        await this.addKilledRuns(repo);
      } catch (e) {
        errors++;
        this.problem('Temporal could not be asked for killed tier runs (the journal alone counts)', e);
      }
    }
    // each source alone: unreadable drill records must not hide the failure counter
    const read = async <T>(what: string, work: () => Promise<T[]>, into: T[]) => {
      try {
        into.push(...(await work()));
      } catch (e) {
        errors++;
        this.problem(`${what} could not be read`, e);
      }
    };
    for (const cloud of this.served.clouds) {
      await read(`the run journals of cloud ${cloud}`, () => readRunJournals(repo, cloud), input.journals);
      await read(`the drill records of cloud ${cloud}`, () => this.drills(repo, cloud), input.drills);
      await read(
        `the binlog archive progress of cloud ${cloud}`,
        () => this.binlog(repo, cloud, input.rows),
        input.binlog,
      );
    }
    this.publish(input, errors, t0);
  }

  private publish(input: MetricsInput, errors: number, t0: number): void {
    for (const m of this.metrics.values()) m.reset();
    for (const s of metricSamples(input)) {
      const m = this.metrics.get(s.name)!;
      if (m instanceof Counter) m.inc(s.labels, s.value);
      else m.set(s.labels, s.value);
    }
    (this.metrics.get('osbackup_metrics_collected_timestamp_seconds') as Gauge).set(t0 / 1000);
    (this.metrics.get('osbackup_metrics_collect_duration_seconds') as Gauge).set((Date.now() - t0) / 1000);
    (this.metrics.get('osbackup_metrics_collect_errors') as Gauge).set(errors);
  }

  /**
   * Tier runs Temporal closed as failed, timed out, terminated or cancelled within the look-back,
   * added to the run journals (deduplicated by run id). This is what catches the runs no
   * workflow code saw end: an execution timeout or `temporal workflow terminate`.
   */
  private async addKilledRuns(repo: TargetStore): Promise<void> {
    const client = await this.temporal!();
    const since = new Date(Date.now() - this.settings.failureLookbackDays * 86_400_000).toISOString();
    const statuses = Object.values(STATUS)
      .map((s) => `ExecutionStatus = '${s}'`)
      .join(' OR ');
    const queues = this.served.queues.map((q) => `'${q.replace(/'/g, "\\'")}'`).join(', ');
    const query = `WorkflowType = 'tierWorkflow' AND TaskQueue IN (${queues}) AND CloseTime > '${since}' AND (${statuses})`;
    const found = new Map<string, RunFailure[]>();
    // a Temporal that stopped answering must not hold the scrape: 20 s for the whole listing
    await client.connection.withDeadline(Date.now() + 20_000, async () => {
      for await (const w of client.workflow.list({ query })) {
        const status = STATUS[w.status.name];
        if (!status) continue;
        const fromId = tierRunFromWorkflowId(w.workflowId);
        const cloud = w.typedSearchAttributes.get(CLOUD) ?? fromId?.cloud;
        const tier = w.typedSearchAttributes.get(TIER) ?? fromId?.tier;
        if (!cloud || !tier || !this.served.clouds.includes(cloud) || !(TIER_NAMES as readonly string[]).includes(tier))
          continue;
        const k = `${cloud}\u0000${tier}`;
        (found.get(k) ?? found.set(k, []).get(k)!).push({
          workflowId: w.workflowId,
          runId: w.runId,
          status,
          at: (w.closeTime ?? new Date()).toISOString(),
          type: null,
          message: null,
          seenBy: 'temporal',
        });
      }
    });
    for (const [k, failures] of found) {
      const [cloud, tier] = k.split('\u0000') as [string, string];
      const added = await recordFailures(repo, cloud, tier, failures);
      if (added)
        this.log(
          `metrics: ${added} ${tier} run(s) of cloud ${cloud} ended without recording it (timed out / terminated): added to the run journal`,
        );
    }
  }

  private async drills(repo: TargetStore, cloud: string): Promise<DrillRecord[]> {
    const out: DrillRecord[] = [];
    for (const o of await repo.list(drillsPrefix(cloud))) {
      if (!o.key.endsWith(`/${DRILL_RECORD_FILE}`)) continue;
      const cacheKey = `${o.key}\u0000${o.bytes}\u0000${o.modifiedAt}`;
      if (!this.drillCache.has(cacheKey))
        this.drillCache.set(cacheKey, parseDrillRecord((await repo.readText(o.key)) ?? ''));
      const r = this.drillCache.get(cacheKey);
      if (r) out.push(r);
    }
    return out;
  }

  /** Per host: the archive's idle progress and the newest segment's archivedThrough, whichever is later. */
  private async binlog(repo: TargetStore, cloud: string, rows: CatalogEntry[]): Promise<MetricsInput['binlog']> {
    const out: MetricsInput['binlog'] = [];
    const dir = progressKey(cloud, 'x').replace(/x\.json$/, '');
    for (const o of await repo.list(dir)) {
      try {
        const p = JSON.parse((await repo.readText(o.key)) ?? '') as { host?: unknown; archivedThrough?: unknown };
        if (
          typeof p.host === 'string' &&
          typeof p.archivedThrough === 'string' &&
          Number.isFinite(Date.parse(p.archivedThrough))
        )
          out.push({ cloud, host: p.host, archivedThrough: p.archivedThrough });
      } catch {
        /* torn: the segments still say how far the archive reaches */
      }
    }
    const newest = new Map<string, CatalogEntry>();
    for (const r of rows) {
      if (r.cloud !== cloud || r.component !== 'binlog' || r.target !== repo.name || r.check === 'MISSING') continue;
      const cur = newest.get(r.sourceHost);
      if (!cur || r.completedAt > cur.completedAt) newest.set(r.sourceHost, r);
    }
    for (const r of newest.values()) {
      const m = JSON.parse(
        (await repo.readText(`${artifactDir(cloud, 'binlog', r.id)}/${MANIFEST_FILE}`)) ?? 'null',
      ) as { binlog?: { archivedThrough?: string } } | null;
      if (m?.binlog?.archivedThrough)
        out.push({ cloud, host: r.sourceHost, archivedThrough: m.binlog.archivedThrough });
    }
    return out;
  }
}
