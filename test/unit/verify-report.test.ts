import type { CheckedFile } from '../../core/manifest/manifest.js';
import {
  checkBatches,
  checkResult,
  classifyFile,
  reportClean,
  resolveSince,
  selectForCheck,
  verifyReport,
  type ArtifactCheck,
  type ExpectedEntry,
  type VerifyNode,
} from '../../core/verify/report.js';

let clock = 0;
function node(
  id: string,
  kind: string,
  parentId: string | null,
  fromLsn = '',
  toLsn = '',
  component = 'database',
): VerifyNode {
  clock++;
  const t = `2026-11-${String(clock).padStart(2, '0')}T02:00:00.000Z`;
  return {
    id,
    cloud: 'c',
    component,
    kind,
    parentId,
    startedAt: t,
    completedAt: t,
    mariadb: { checkpoints: { fromLsn, toLsn } },
  };
}
const entry = (n: VerifyNode): ExpectedEntry => ({
  id: n.id,
  cloud: n.cloud,
  component: n.component,
  kind: n.kind,
  parentId: n.parentId,
  startedAt: n.startedAt,
  completedAt: n.completedAt,
  toLsn: n.mariadb.checkpoints.toLsn,
});

// chain A: fA ← iA1 ← iA2; chain B: fB ← iB1; a control-plane backup
const fA = node('fA', 'full', null, '0', '100');
const iA1 = node('iA1', 'incremental', 'fA', '100', '150');
const iA2 = node('iA2', 'incremental', 'iA1', '150', '200');
const fB = node('fB', 'full', null, '0', '300');
const iB1 = node('iB1', 'incremental', 'fB', '300', '350');
const cp = node('cp1', 'control-plane', null, '', '', 'control-plane');
const all = [fA, iA1, iA2, fB, iB1, cp];

const file = (id: string, outcome: CheckedFile['outcome']): CheckedFile => ({
  rel: `clouds/c/database/${id}/data.xb.zst.gpg`,
  expectedSha256: 'a'.repeat(64),
  expectedBytes: 10,
  actualSha256: outcome === 'missing' ? null : outcome === 'ok' ? 'a'.repeat(64) : 'b'.repeat(64),
  actualBytes: outcome === 'missing' ? null : outcome === 'truncated' ? 4 : 10,
  outcome,
});
const check = (id: string, outcome: CheckedFile['outcome'] = 'ok'): ArtifactCheck => ({
  id,
  result: checkResult([file(id, outcome)]),
  checkedAt: '2026-11-30T03:00:00.000Z',
  files: [file(id, outcome)],
});

const base = { target: 'local', location: '/repo', cloud: 'c', since: null };

describe('file classification', () => {
  const exp = { rel: 'x/data', sha256: 'a'.repeat(64), bytes: 10 };
  test('ok, corrupt (same size), truncated (other size), missing', () => {
    expect(classifyFile(exp, { sha256: 'a'.repeat(64), bytes: 10 }).outcome).toBe('ok');
    expect(classifyFile(exp, { sha256: 'b'.repeat(64), bytes: 10 }).outcome).toBe('corrupt');
    expect(classifyFile(exp, { sha256: 'b'.repeat(64), bytes: 4 }).outcome).toBe('truncated');
    expect(classifyFile(exp, null)).toEqual({
      rel: 'x/data',
      expectedSha256: exp.sha256,
      expectedBytes: 10,
      actualSha256: null,
      actualBytes: null,
      outcome: 'missing',
    });
  });
  test('an artifact with a missing part is MISSING; with other bytes CORRUPT; else CHECKED', () => {
    expect(checkResult([file('a', 'ok'), file('a', 'corrupt'), file('a', 'missing')])).toBe('MISSING');
    expect(checkResult([file('a', 'ok'), file('a', 'truncated')])).toBe('CORRUPT');
    expect(checkResult([file('a', 'ok')])).toBe('CHECKED');
  });
});

describe('verify report', () => {
  test('all CHECKED: every restore point intact, the newest per component named', () => {
    const r = verifyReport({ ...base, present: all, expected: all.map(entry), checks: all.map((n) => check(n.id)) });
    expect(r.counts).toEqual({ checked: 6, corrupt: 0, missing: 0, notChecked: 0 });
    expect(r.bad).toEqual([]);
    expect(r.restorePoints.every((p) => p.state === 'intact')).toBe(true);
    expect(r.newestIntact).toEqual({ database: 'iB1', 'control-plane': 'cp1' });
    expect(r.artifacts.find((a) => a.id === 'fA')).toMatchObject({
      result: 'CHECKED',
      checkedAt: '2026-11-30T03:00:00.000Z',
    });
    expect(reportClean(r)).toBe(true);
  });

  test('a corrupt full breaks every incremental chained on it; a truncated incremental breaks itself and its children', () => {
    const checks = all.map((n) =>
      n.id === 'fB' ? check('fB', 'corrupt') : n.id === 'iA1' ? check('iA1', 'truncated') : check(n.id),
    );
    const r = verifyReport({ ...base, present: all, expected: all.map(entry), checks });
    expect(r.counts).toEqual({ checked: 4, corrupt: 2, missing: 0, notChecked: 0 });
    expect(r.bad.map((b) => [b.id, b.result, b.breaks])).toEqual([
      ['iA1', 'CORRUPT', ['iA1', 'iA2']],
      ['fB', 'CORRUPT', ['fB', 'iB1']],
    ]);
    expect(r.bad[0]!.reason).toBe('data.xb.zst.gpg has 4 bytes, the manifest says 10 (truncated)');
    expect(r.bad[1]!.reason).toMatch(/^data\.xb\.zst\.gpg has the right size \(10 bytes\) but other bytes/);
    expect(r.newestIntact).toEqual({ database: 'fA', 'control-plane': 'cp1' });
    expect(r.restorePoints.find((p) => p.id === 'iA2')).toMatchObject({ state: 'broken', because: ['iA1 CORRUPT'] });
    // iA2's own bytes are fine: CHECKED artifact, broken restore point
    expect(r.artifacts.find((a) => a.id === 'iA2')!.result).toBe('CHECKED');
    expect(reportClean(r)).toBe(false);
  });

  test('a folder gone whole is named from the catalog, with the restore points it breaks', () => {
    const present = all.filter((n) => n.id !== 'fA');
    const r = verifyReport({ ...base, present, expected: all.map(entry), checks: present.map((n) => check(n.id)) });
    expect(r.bad).toEqual([
      {
        id: 'fA',
        component: 'database',
        kind: 'full',
        completedAt: fA.completedAt,
        result: 'MISSING',
        reason: expect.stringContaining('folder is gone'),
        files: [],
        breaks: ['fA', 'iA1', 'iA2'],
      },
    ]);
    expect(r.counts.missing).toBe(1);
    expect(r.restorePoints.find((p) => p.id === 'fA')!.state).toBe('broken');
  });

  test('without a catalog index, a vanished parent is still named by the incremental that needs it', () => {
    const present = all.filter((n) => n.id !== 'iA1');
    const r = verifyReport({ ...base, present, expected: null, checks: present.map((n) => check(n.id)) });
    expect(r.catalogIndex).toBe(false);
    expect(r.bad.map((b) => [b.id, b.result, b.breaks])).toEqual([['iA1', 'MISSING', ['iA2']]]);
    expect(r.newestIntact.database).toBe('iB1');
  });

  test('a missing sealed file (manifest still there) is MISSING', () => {
    const r = verifyReport({
      ...base,
      present: all,
      expected: all.map(entry),
      checks: all.map((n) => (n.id === 'iB1' ? check('iB1', 'missing') : check(n.id))),
    });
    expect(r.bad.map((b) => [b.id, b.result, b.reason, b.breaks])).toEqual([
      ['iB1', 'MISSING', 'data.xb.zst.gpg is missing', ['iB1']],
    ]);
    expect(r.newestIntact.database).toBe('fB');
  });

  test('an LSN gap is a broken restore point even when every artifact is CHECKED', () => {
    const gap = node('iB2', 'incremental', 'iB1', '360', '400');
    const r = verifyReport({
      ...base,
      present: [...all, gap],
      expected: null,
      checks: [...all, gap].map((n) => check(n.id)),
    });
    expect(r.restorePoints.find((p) => p.id === 'iB2')).toMatchObject({
      state: 'broken',
      because: [expect.stringContaining('starts at LSN 360')],
    });
    expect(r.newestIntact.database).toBe('iB1');
    expect(reportClean(r)).toBe(false);
  });

  test('--since: artifacts not re-read leave their restore points "not checked", never intact', () => {
    const since = iA2.completedAt;
    const picked = selectForCheck(all, since);
    expect(picked.map((n) => n.id)).toEqual(['iA2', 'fB', 'iB1', 'cp1']);
    const r = verifyReport({
      ...base,
      since,
      present: all,
      expected: all.map(entry),
      checks: picked.map((n) => check(n.id)),
    });
    expect(r.counts).toEqual({ checked: 4, corrupt: 0, missing: 0, notChecked: 2 });
    expect(r.restorePoints.find((p) => p.id === 'iA2')!.state).toBe('not checked');
    expect(r.newestIntact.database).toBe('iB1');
  });

  test('other clouds on the same target are ignored', () => {
    const other = { ...node('x', 'full', null, '0', '1'), cloud: 'other' };
    const r = verifyReport({
      ...base,
      present: [...all, other],
      expected: [...all, other].map(entry),
      checks: all.map((n) => check(n.id)),
    });
    expect(r.artifacts.map((a) => a.id)).not.toContain('x');
    expect(r.bad).toEqual([]);
  });
});

describe('since and batches', () => {
  const now = new Date('2026-11-30T03:00:00.000Z');
  test('durations count back from the run, ISO times stay', () => {
    expect(resolveSince('7d', now)).toBe('2026-11-23T03:00:00.000Z');
    expect(resolveSince('12h', now)).toBe('2026-11-29T15:00:00.000Z');
    expect(resolveSince('30m', now)).toBe('2026-11-30T02:30:00.000Z');
    expect(resolveSince('2w', now)).toBe('2026-11-16T03:00:00.000Z');
    expect(resolveSince('2026-11-01', now)).toBe('2026-11-01T00:00:00.000Z');
    expect(resolveSince('2026-11-01T02:00:00+01:00', now)).toBe('2026-11-01T01:00:00.000Z');
    expect(resolveSince('yesterday', now)).toBeNull();
    expect(resolveSince('2026-13-45', now)).toBeNull();
  });
  test('batches cap artifacts and bytes; one huge artifact is a batch of its own', () => {
    const items = [5, 5, 5, 100, 1, 1, 1, 1, 1].map((bytes, i) => ({ id: String(i), bytes }));
    expect(checkBatches(items, 3, 20).map((b) => b.map((x) => x.id))).toEqual([
      ['0', '1', '2'],
      ['3'],
      ['4', '5', '6'],
      ['7', '8'],
    ]);
    expect(checkBatches([], 3, 20)).toEqual([]);
  });
});
