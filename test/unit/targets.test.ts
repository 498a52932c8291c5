// The pure side of targets: the copy planner (whole chains, parents first, conflicts refused),
// the monthly promotion set, and the targets / tiers config with its cross references.
import { parseConfig } from '../../config/load.js';
import { configProblems, configYaml } from '../helpers/config-fixture.js';
import { planCopy, promotionSet } from '../../core/copy/plan.js';
import type { ArtifactManifest } from '../../core/manifest/manifest.js';
import type { AnyManifest } from '../../core/manifest/any-manifest.js';
import type { ControlPlaneManifest } from '../../core/control-plane/control-plane.js';

let lsn = 1000;
function db(
  id: string,
  kind: 'full' | 'incremental',
  parentId: string | null,
  completedAt: string,
  sha = `sha-${id}`,
): ArtifactManifest {
  const fromLsn = kind === 'full' ? '0' : String(lsn);
  lsn += 100;
  return {
    id,
    cloud: 'c',
    component: 'database',
    kind,
    parentId,
    startedAt: completedAt,
    completedAt,
    artifact: { file: 'data.xb.zst.gpg', sha256: sha, bytes: 10 },
    mariadb: { checkpoints: { fromLsn, toLsn: String(lsn) } },
  } as unknown as ArtifactManifest;
}
function chained(list: ArtifactManifest[]): ArtifactManifest[] {
  // make each incremental start where its parent ended
  const byId = new Map(list.map((m) => [m.id, m]));
  for (const m of list) if (m.parentId) m.mariadb.checkpoints.fromLsn = byId.get(m.parentId)!.mariadb.checkpoints.toLsn;
  return list;
}
const cp = (id: string, completedAt: string, reason: 'backup' | 'pre-restore' = 'backup') =>
  ({
    id,
    cloud: 'c',
    component: 'control-plane',
    kind: 'control-plane',
    reason,
    startedAt: completedAt,
    completedAt,
    parts: [{ file: 'kolla.tar.zst.gpg', sha256: `sha-${id}`, bytes: 1 }],
  }) as unknown as ControlPlaneManifest;

const f1 = db('f1', 'full', null, '2026-11-01T03:00:00Z');
const i1 = db('i1', 'incremental', 'f1', '2026-11-02T02:00:00Z');
const i2 = db('i2', 'incremental', 'i1', '2026-11-03T02:00:00Z');
const f2 = db('f2', 'full', null, '2026-11-08T03:00:00Z');
const i3 = db('i3', 'incremental', 'f2', '2026-11-09T02:00:00Z');
const source: AnyManifest[] = chained([f1, i1, i2, f2, i3]);

describe('planCopy', () => {
  test('a restore point travels with its whole chain, parents first', () => {
    expect(planCopy(source, [], ['i2'])).toEqual({ copy: ['f1', 'i1', 'i2'], present: [], problems: [] });
    expect(planCopy(source, [], ['i3', 'i2']).copy).toEqual(['f2', 'i3', 'f1', 'i1', 'i2']);
  });

  test('what the destination holds with the same bytes is skipped', () => {
    expect(planCopy(source, [f1, i1], ['i2'])).toEqual({ copy: ['i2'], present: ['f1', 'i1'], problems: [] });
  });

  test('the same id with other bytes on the destination is a conflict: nothing of that chain is copied', () => {
    const other = { ...f1, artifact: { ...f1.artifact, sha256: 'different' } } as ArtifactManifest;
    const p = planCopy(source, [other], ['i2', 'i3']);
    expect(p.copy).toEqual(['f2', 'i3']);
    expect(p.problems).toEqual([{ id: 'i2', reason: expect.stringContaining('holds f1 with other bytes') }]);
  });

  test('a broken chain on the source is never copied, an unknown id is reported', () => {
    const broken = source.filter((m) => m.id !== 'i1');
    const p = planCopy(broken, [], ['i2', 'nope']);
    expect(p.copy).toEqual([]);
    expect(p.problems.map((x) => x.id)).toEqual(['i2', 'nope']);
    expect(p.problems[0]!.reason).toContain('needs i1');
  });

  test('control-plane backups are copied alone', () => {
    expect(planCopy([...source, cp('cp1', '2026-11-08T02:30:00Z')], [], ['cp1']).copy).toEqual(['cp1']);
  });
});

describe('promotionSet (the monthly tier)', () => {
  const all: AnyManifest[] = [
    ...source,
    cp('cp1', '2026-11-08T02:30:00Z'),
    cp('cp2', '2026-11-08T04:00:00Z', 'pre-restore'),
    cp('cp3', '2026-11-10T02:30:00Z'),
  ];
  test("that Sunday's full and the newest control-plane backup up to a day after it", () => {
    expect(promotionSet(all, '2026-11-08T05:00:00Z')).toEqual({ ids: ['f2', 'cp1'], problem: null });
  });
  test('nothing after the cut-off counts; safety copies are never promoted', () => {
    expect(promotionSet(all, '2026-11-01T05:00:00Z').ids).toEqual(['f1']);
    expect(promotionSet(all, '2026-11-08T23:00:00Z').ids).toEqual(['f2', 'cp1']);
  });
  test("a missing weekly full is a problem, never a silent promotion of last week's", () => {
    const p = promotionSet(all, '2026-11-15T05:00:00Z');
    expect(p.ids).toEqual([]);
    expect(p.problem).toMatch(/newest full backup \(f2, .*\) is older than 24 h/);
    expect(promotionSet([], '2026-12-01T00:00:00Z').problem).toMatch(/no full backup/);
  });
});

const base = configYaml();
const problems = (text: string) => Object.entries(configProblems(text)).map(([path, message]) => `${path}: ${message}`);

describe('targets and tiers in the config', () => {
  test('defaults: the repository is the target "local" with daily 7 / weekly 4 / monthly 12; no extra targets', () => {
    const c = parseConfig(base);
    expect(c.repository).toMatchObject({ name: 'local', retention: { daily: 7, weekly: 4, monthly: 12 } });
    expect(c.targets).toEqual({});
    expect(c.clouds.prod!.tiers).toEqual({});
  });

  test('NFS, S3 (Swift settings) and tiers naming them', () => {
    const c = parseConfig(
      base.replace(
        'clouds:',
        `targets:
  nfs: { type: nfs, path: /mnt/backup/osbackup, mountPoint: /mnt/backup }
  swift:
    type: s3
    endpoint: http://swift:8080
    bucket: osbackup
    accessKeyId: { file: /etc/osbackup/ak }
    secretAccessKey: { file: /etc/osbackup/sk }
    retention: { daily: 0, weekly: 0, monthly: 12 }
clouds:`,
      ) +
        `    tiers: { daily: { targets: [local] }, weekly: { targets: [local, nfs] }, monthly: { targets: [swift] } }\n`,
    );
    expect(c.targets.swift).toMatchObject({
      type: 's3',
      forcePathStyle: true,
      checksumMode: 'WHEN_REQUIRED',
      region: 'us-east-1',
      retention: { monthly: 12, daily: 0 },
    });
    expect(c.clouds.prod!.tiers.weekly!.targets).toEqual(['local', 'nfs']);
  });

  test('an NFS path outside its mount point, an unknown tier target and a target named like the repository are reported with their paths', () => {
    const p = problems(
      base.replace(
        'clouds:',
        `targets:
  nfs: { type: nfs, path: /srv/elsewhere, mountPoint: /mnt/backup }
  local: { type: local, path: /srv/other }
clouds:`,
      ) + `    tiers: { monthly: { targets: [swift] } }\n`,
    );
    expect(p).toEqual(
      expect.arrayContaining([
        'targets.nfs.path: path must be the mount point or a folder under it',
        expect.stringMatching(
          /^clouds\.prod\.tiers\.monthly\.targets\.0: names target "swift", which is neither the repository nor under targets/,
        ),
        expect.stringMatching(/^targets\.local: "local" is the repository's name/),
      ]),
    );
  });

  test('an unknown target type is refused', () => {
    expect(problems(base.replace('clouds:', 'targets:\n  x: { type: ftp, path: /x }\nclouds:')).join('\n')).toMatch(
      /^targets\.x\.type/m,
    );
  });
});
