// The report as Markdown: the HTML page's sections as tables (for a wiki, a ticket or a terminal).
import type { ReportModel } from '../../core/report/report.js';
import { fmtDuration, MIN_FORECAST_HISTORY_DAYS } from '../../core/report/report.js';
import { fmtBytes } from './svg.js';

/** A table cell: pipes and newlines would break the row. */
export function mdCell(s: string | number): string {
  return String(s).replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

export function mdTable(head: string[], rows: (string | number)[][]): string {
  return (
    [
      `| ${head.map(mdCell).join(' | ')} |`,
      `|${head.map(() => ' --- ').join('|')}|`,
      ...rows.map((r) => `| ${r.map(mdCell).join(' | ')} |`),
    ].join('\n') + '\n'
  );
}

const when = (iso: string | null) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-');
const STATE_MARK = { verified: 'V', checked: 'C', unverified: 'u', failed: 'F' } as const;

export function renderMarkdown(m: ReportModel): string {
  const out: string[] = [];
  const s = m.summary;
  out.push(`# osbackup report — cloud ${m.cloud}\n`);
  out.push(
    `Generated ${when(m.generatedAt)}. Period ${new Date(m.window.from).toISOString().slice(0, 10)} to ${new Date(m.window.to).toISOString().slice(0, 10)} (UTC).\n`,
  );
  out.push(
    mdTable(
      ['restore points', 'newest', 'artifacts', 'stored', 'verified', 'last drill or rebuild', 'open breaches'],
      [
        [
          s.restorePoints,
          when(s.newestRestorePoint),
          s.artifacts,
          fmtBytes(s.storedBytes),
          s.verified,
          s.lastDrill
            ? `${s.lastDrill.kind} ${s.lastDrill.result}, RTO ${fmtDuration(s.lastDrill.rtoSeconds)}`
            : 'none',
          s.breaches,
        ],
      ],
    ),
  );

  out.push('## Open breaches\n');
  out.push(
    m.breaches.length
      ? mdTable(
          ['kind', 'subject', 'since', 'what'],
          m.breaches.map((b) => [b.kind, b.subject, when(b.since), b.message]),
        )
      : 'No open breaches.\n',
  );

  out.push('## Backup calendar\n');
  const active = m.calendar.days.filter((d) =>
    m.calendar.lanes.some((l) => l.cells.some((c) => c.day === d && c.count)),
  );
  if (!active.length) out.push('No backups in this period.\n');
  else {
    out.push(
      'Artifacts per day and tier, with their worst state: V verified, C checked, u not verified yet, F failed/corrupt/missing. Days without any backup are left out.\n',
    );
    const cell = (lane: (typeof m.calendar.lanes)[number], d: string) => {
      const c = lane.cells.find((x) => x.day === d)!;
      return c.count ? `${c.count} ${STATE_MARK[c.state!]}` : '';
    };
    out.push(
      mdTable(
        ['day', ...m.calendar.lanes.map((l) => l.lane)],
        [...active].reverse().map((d) => [d, ...m.calendar.lanes.map((l) => cell(l, d))]),
      ),
    );
  }

  out.push('## Sizes over time\n');
  const sizeRows = m.sizes.flatMap((se) =>
    se.points.map((p) => ({
      t: p.t,
      row: [new Date(p.t).toISOString().slice(0, 16).replace('T', ' '), se.name, p.label ?? '', fmtBytes(p.v)],
    })),
  );
  out.push(
    sizeRows.length
      ? mdTable(
          ['time (UTC)', 'series', 'artifact', 'stored'],
          sizeRows
            .sort((a, b) => b.t - a.t)
            .slice(0, 60)
            .map((r) => r.row),
        ) + (sizeRows.length > 60 ? `\n(${sizeRows.length - 60} older rows in the HTML chart)\n` : '')
      : 'No artifacts in this period.\n',
  );

  out.push('## RPO over time\n');
  out.push(
    `Targets: database restore points every ${fmtDuration(m.settings.backupRpoTargetSeconds)}, binlog archive ${fmtDuration(m.settings.binlogRpoTargetSeconds)}.\n`,
  );
  const rpoRows = [...m.rpo.backups, ...m.rpo.binlog].map((se) => {
    const worst = se.points.reduce((a, b) => (b.v > a.v ? b : a));
    const over = se.name.startsWith('binlog') ? m.settings.binlogRpoTargetSeconds : m.settings.backupRpoTargetSeconds;
    return [
      se.name,
      se.points.length,
      fmtDuration(se.points.at(-1)!.v),
      `${fmtDuration(worst.v)} (${worst.label ?? new Date(worst.t).toISOString()})`,
      se.points.filter((p) => p.v > over).length,
    ];
  });
  out.push(
    rpoRows.length
      ? mdTable(['series', 'points', 'latest', 'worst', 'over target'], rpoRows)
      : 'Not enough restore points or segments to measure.\n',
  );

  out.push('## Drills and rebuilds\n');
  if (!m.drills.length) out.push('No drill recorded yet.\n');
  else {
    out.push(
      mdTable(
        ['id', 'kind', 'finished', 'result', 'RTO', 'RPO', 'targets RTO / RPO', 'restore point', 'checks'],
        m.drills.map((d) => [
          d.id,
          d.kind,
          when(d.completedAt),
          d.result,
          fmtDuration(d.rtoSeconds),
          d.rpoSeconds === null ? '-' : fmtDuration(d.rpoSeconds),
          `${d.targets.rtoSeconds === null ? '-' : fmtDuration(d.targets.rtoSeconds)} / ${d.targets.rpoSeconds === null ? '-' : fmtDuration(d.targets.rpoSeconds)}`,
          d.restorePoint.id,
          `${d.checks.filter((c) => c.ok).length}/${d.checks.length}`,
        ]),
      ),
    );
    for (const d of m.drills.slice(0, 10)) {
      const t0 = Math.min(...d.steps.map((x) => Date.parse(x.startedAt)));
      out.push(`\n### ${d.kind} ${d.id} — ${d.result}, RTO ${fmtDuration(d.rtoSeconds)}\n`);
      out.push(
        mdTable(
          ['step', 'result', 'starts at', 'seconds', 'detail'],
          d.steps.map((x) => [
            x.name,
            x.result,
            `+${((Date.parse(x.startedAt) - t0) / 1000).toFixed(1)} s`,
            x.seconds.toFixed(1),
            x.detail ?? '',
          ]),
        ),
      );
      if (d.breaches.length) out.push(d.breaches.map((b) => `- ${b}`).join('\n') + '\n');
    }
  }

  out.push('## Storage forecast\n');
  out.push(
    m.forecast.length
      ? mdTable(
          ['target', 'type', 'stored', 'growth/day', 'in 30 days', 'free', 'full in'],
          m.forecast.map((f) => [
            f.target,
            f.type,
            fmtBytes(f.storedBytes),
            f.growthBytesPerDay === null ? '-' : fmtBytes(f.growthBytesPerDay),
            f.forecast30dBytes === null ? '-' : fmtBytes(f.forecast30dBytes),
            f.freeBytes === null ? '-' : fmtBytes(f.freeBytes),
            f.daysUntilFull === null
              ? (f.note ?? '-')
              : `${f.daysUntilFull.toFixed(1)} days (${f.fullAt!.slice(0, 10)})${f.historyDays < MIN_FORECAST_HISTORY_DAYS ? ', from less than a day of history' : ''}`,
          ]),
        )
      : 'No target could be scanned.\n',
  );
  if (m.notes.length) out.push('## Notes\n\n' + m.notes.map((n) => `- ${n}`).join('\n') + '\n');
  return out.join('\n');
}
