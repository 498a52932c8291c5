// `osbackup logs <workflow-id>`: a run's history as the runbook steps it took. Pure: the
// client turns Temporal's events into these summaries (decoding failures), this lays them out.

export type HistoryItem =
  | { at: string; kind: 'started'; name: string; attempt?: number }
  | {
      at: string;
      kind: 'activity';
      name: string;
      outcome: 'completed' | 'failed' | 'timed out' | 'canceled' | 'running';
      attempts: number;
      seconds: number | null;
      failure?: string;
      retryFailure?: string;
    }
  | { at: string; kind: 'signal' | 'update' | 'timer' | 'child' | 'note'; name: string; detail?: string }
  | {
      at: string;
      kind: 'ended';
      name: 'completed' | 'failed' | 'canceled' | 'terminated' | 'timed out' | 'continued as new';
      failure?: string;
    };

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));

export function historyText(workflowId: string, items: HistoryItem[]): string {
  const out = [`${workflowId}`];
  let failed = 0;
  for (const i of items) {
    const t = i.at.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
    if (i.kind === 'started')
      out.push(`${t}  started ${i.name}${i.attempt && i.attempt > 1 ? ` (attempt ${i.attempt})` : ''}`);
    else if (i.kind === 'activity') {
      const mark = i.outcome === 'completed' ? '✓' : i.outcome === 'running' ? '…' : '✗';
      if (i.outcome !== 'completed' && i.outcome !== 'running') failed++;
      const took = i.seconds === null ? '' : ` ${i.seconds.toFixed(1)} s`;
      out.push(
        `${t}  ${mark} ${pad(i.name, 34)} ${i.outcome}${took}${i.attempts > 1 ? `, ${i.attempts} attempts` : ''}`,
      );
      if (i.retryFailure) out.push(`${' '.repeat(t.length)}      retried after: ${i.retryFailure}`);
      if (i.failure) out.push(`${' '.repeat(t.length)}      failure: ${i.failure}`);
    } else if (i.kind === 'ended')
      out.push(
        `${t}  ${i.name === 'completed' ? '■ completed' : `■ ${i.name.toUpperCase()}`}${i.failure ? `: ${i.failure}` : ''}`,
      );
    else out.push(`${t}  ${i.kind} ${i.name}${i.detail ? ` ${i.detail}` : ''}`);
  }
  const end = [...items].reverse().find((i) => i.kind === 'ended');
  if (!end) out.push(`(still running${failed ? `; ${failed} activity failures so far` : ''})`);
  return out.join('\n') + '\n';
}
