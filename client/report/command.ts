// `osbackup report [--cloud c] [--out dir]`: <dir>/<cloud>/report.html and report.md for each
// cloud (or the one named). The worker gathers the drills and the capacity (reportDataWorkflow),
// the catalog is listed by pages; the model and both renderings are pure and run here.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../../config/schema.js';
import { taskQueueOf } from '../../config/task-queues.js';
import { reportModel, type ReportInput, type ReportModel } from '../../core/report/report.js';
import type { ReportData } from '../../workflows/report.js';
import type { CatalogListing } from '../../core/catalog/catalog.js';
import { catalogListing } from '../catalog-pages.js';
import { connect, EXIT } from '../connect.js';
import type { CliContext, G } from '../control-plane.js';
import { renderHtml } from './html.js';
import { renderMarkdown } from './markdown.js';

/** The model's input: the worker's data, the catalog listed by pages, and the cloud's thresholds from the config. */
export function reportInput(config: Config, data: ReportData, catalog: CatalogListing): ReportInput {
  const c = config.clouds[data.cloud]!;
  return {
    cloud: data.cloud,
    generatedAt: data.generatedAt,
    repository: config.repository.name,
    rows: catalog.rows,
    unavailableTargets: catalog.unavailable,
    drills: data.drills,
    capacity: data.capacity.targets,
    capacityFailed: data.capacity.failed,
    settings: {
      backupRpoTargetSeconds: c.report.backupRpoTargetHours * 3600,
      binlogRpoTargetSeconds: c.database.binlog.rpoTargetSeconds,
      drillMaxAgeDays: c.report.drillMaxAgeDays,
      days: c.report.days,
    },
  };
}

/** Writes both files atomically (temporary name, then rename): a reader never sees half a page. */
export async function writeReport(dir: string, m: ReportModel): Promise<{ html: string; markdown: string }> {
  await mkdir(dir, { recursive: true });
  const html = join(dir, 'report.html');
  const markdown = join(dir, 'report.md');
  for (const [path, text] of [
    [html, renderHtml(m)],
    [markdown, renderMarkdown(m)],
  ] as const) {
    await writeFile(`${path}.tmp`, text);
    await rename(`${path}.tmp`, path);
  }
  return { html, markdown };
}

export function registerReportCommand(program: Command, ctx: CliContext<G>): void {
  program
    .command('report')
    .description(
      'write report.html (static SVG charts, no script: opens from file://) and report.md per cloud: backup calendar, sizes, RPO, drills, open breaches, storage forecast',
    )
    .option('--cloud <name>', 'only this cloud (default: every cloud in the config)')
    .option('--out <dir>', 'folder for <cloud>/report.html and report.md', 'osbackup-report')
    .action(async function (this: Command) {
      const g = this.optsWithGlobals<G & { out: string }>();
      const config = ctx.load(g);
      const clouds = g.cloud ? [ctx.pickCloud(config, g.cloud)] : Object.keys(config.clouds);
      const client = await connect(config);
      const written: { cloud: string; html: string; markdown: string; breaches: number }[] = [];
      for (const cloud of clouds) {
        const data = (await client.workflow.execute('reportDataWorkflow', {
          taskQueue: taskQueueOf(config, cloud),
          workflowId: `report:${cloud}:${Date.now()}`,
          args: [{ cloud }],
        })) as ReportData;
        // a run from before the catalog was listed by pages brings its first page
        const catalog = await catalogListing(client, config, { cloud }, { from: data.catalog });
        for (const u of catalog.unavailable)
          process.stderr.write(
            `osbackup: target "${u.target}" could not be read, its copies are not in the report: ${u.reason}\n`,
          );
        if (catalog.unavailable.length) process.exitCode = EXIT.failed;
        const m = reportModel(reportInput(config, data, catalog));
        written.push({ cloud, ...(await writeReport(resolve(g.out, cloud), m)), breaches: m.breaches.length });
      }
      ctx.out(
        g,
        written,
        written
          .map(
            (w) => `${w.cloud}: ${w.html} and ${w.markdown} (${w.breaches} open breach${w.breaches === 1 ? '' : 'es'})`,
          )
          .join('\n') + '\n',
      );
    });
}
