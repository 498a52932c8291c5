// The pre-upgrade gate's verdict and the CLI's exit codes, without servers.
import type { CatalogEntry } from '../../core/catalog/catalog.js';
import { gateVerdict, type GateInput } from '../../core/preflight/preflight.js';
import { minutesOf, preflightExitCode } from '../../client/preflight.js';
import type { PreflightResult } from '../../workflows/preflight.js';

const NOW = '2026-11-30T12:00:00.000Z';
const ago = (min: number) => new Date(Date.parse(NOW) - min * 60_000).toISOString();
const row = (
  id: string,
  component: string,
  kind: string,
  minutesAgo: number,
  over: Partial<CatalogEntry> = {},
): CatalogEntry => ({
  id,
  cloud: 'prod',
  component,
  kind,
  parentId: null,
  startedAt: ago(minutesAgo + 1),
  completedAt: ago(minutesAgo),
  sourceHost: 'ctl1',
  bytes: 1,
  streamBytes: 1,
  sha256: 'x',
  path: id,
  toLsn: '',
  binlog: null,
  verification: 'UNVERIFIED',
  lastVerifiedAt: null,
  target: 'local',
  check: 'UNCHECKED',
  lastCheckedAt: null,
  imported: null,
  ...over,
});
const gate = (rows: CatalogEntry[], over: Partial<GateInput> = {}) =>
  gateVerdict({ rows, checked: {}, now: NOW, maxAgeMinutes: 60, prove: false, controlPlaneRequired: true, ...over });

test('open: the newest fresh full and control-plane backup, re-read in this run', () => {
  const rows = [
    row('full-old', 'database', 'full', 30, { check: 'CHECKED' }),
    row('full-new', 'database', 'full', 2),
    row('cp-1', 'control-plane', 'control-plane', 1),
  ];
  expect(gate(rows, { checked: { 'full-new': 'CHECKED', 'cp-1': 'CHECKED' } })).toEqual({
    ok: true,
    database: 'full-new',
    controlPlane: 'cp-1',
    problems: [],
  });
});

test('closed: too old, not re-read, corrupt, unproven — each says why', () => {
  expect(
    gate([
      row('full-1', 'database', 'full', 61, { check: 'CHECKED' }),
      row('cp-1', 'control-plane', 'control-plane', 1, { check: 'CHECKED' }),
    ]).problems,
  ).toEqual([`no full database backup completed since ${ago(60)} (60 min)`]);
  const v = gate([row('full-1', 'database', 'full', 5), row('cp-1', 'control-plane', 'control-plane', 1)], {
    checked: { 'full-1': 'CORRUPT' },
  });
  expect(v.ok).toBe(false);
  expect(v.problems[0]).toContain('full-1 CORRUPT');
  expect(v.problems[1]).toContain('control-plane backups');
  const p = gate(
    [
      row('full-1', 'database', 'full', 5, { check: 'CHECKED' }),
      row('cp-1', 'control-plane', 'control-plane', 1, { check: 'CHECKED' }),
    ],
    { prove: true },
  );
  expect(p.problems).toEqual([expect.stringContaining('proven by a restore (VERIFIED): full-1 UNVERIFIED')]);
  expect(
    gate(
      [
        row('full-1', 'database', 'full', 5, { check: 'CHECKED', verification: 'VERIFIED' }),
        row('cp-1', 'control-plane', 'control-plane', 1, { check: 'CHECKED' }),
      ],
      { prove: true },
    ).ok,
  ).toBe(true);
});

test('an incremental never opens the gate, and a cloud without control-plane parts needs none', () => {
  expect(
    gate([row('inc-1', 'database', 'incremental', 1, { check: 'CHECKED' })], { controlPlaneRequired: false }).ok,
  ).toBe(false);
  expect(
    gate([row('full-1', 'database', 'full', 1, { check: 'CHECKED' })], { controlPlaneRequired: false }),
  ).toMatchObject({ ok: true, controlPlane: null });
});

test('durations and exit codes', () => {
  expect(minutesOf('90', '--max-age')).toBe(90);
  expect(minutesOf('2h', '--max-age')).toBe(120);
  expect(minutesOf('30s', '--timeout')).toBe(0.5);
  expect(() => minutesOf('soon', '--timeout')).toThrow('--timeout "soon" is not a duration');
  const r = (o: Partial<PreflightResult>) => ({ ok: false, failedStage: null, ...o }) as PreflightResult;
  expect(preflightExitCode(r({ ok: true }))).toBe(0);
  expect(preflightExitCode(r({ failedStage: 'backup' }))).toBe(5);
  expect(preflightExitCode(r({ failedStage: 'verify' }))).toBe(4);
  expect(preflightExitCode(r({ failedStage: 'gate' }))).toBe(6);
});
