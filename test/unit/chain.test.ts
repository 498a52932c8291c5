import { chainTo, incrementalBase, newestIntactRestorePoint } from '../../core/chain/chain.js';
import type { ArtifactManifest } from '../../core/manifest/manifest.js';

let clock = 0;
function m(
  id: string,
  kind: 'full' | 'incremental',
  parentId: string | null,
  fromLsn: string,
  toLsn: string,
): ArtifactManifest {
  clock++;
  return {
    id,
    cloud: 'c',
    component: 'database',
    kind,
    parentId,
    startedAt: `2026-01-01T00:00:${String(clock).padStart(2, '0')}Z`,
    mariadb: {
      checkpoints: { backupType: kind === 'full' ? 'full-backuped' : 'incremental', fromLsn, toLsn, lastLsn: toLsn },
    },
  } as unknown as ArtifactManifest;
}

const full = m('f1', 'full', null, '0', '100');
const i1 = m('i1', 'incremental', 'f1', '100', '150');
const i2 = m('i2', 'incremental', 'i1', '150', '200');

describe('chains', () => {
  test('an intact chain is listed oldest first', () => {
    expect(chainTo([i2, full, i1], 'i2')).toEqual({ chain: [full, i1, i2] });
    expect(chainTo([full], 'f1')).toEqual({ chain: [full] });
  });

  test('a missing parent breaks the chain, naming both', () => {
    const r = chainTo([full, i2], 'i2');
    expect(r).toEqual({
      problem: { id: 'i2', reason: 'incremental i2 needs i1, which is missing from the repository' },
    });
  });

  test('an LSN gap breaks the chain', () => {
    const gap = m('i3', 'incremental', 'i2', '210', '300');
    expect('problem' in chainTo([full, i1, i2, gap], 'i3') && chainTo([full, i1, i2, gap], 'i3')).toMatchObject({
      problem: { reason: expect.stringMatching(/starts at LSN 210 but its parent i2 ends at 200/) },
    });
  });

  test('the next incremental builds on the newest intact member', () => {
    expect(incrementalBase([full, i1, i2])).toEqual({ base: i2 });
    const orphan = m('i9', 'incremental', 'gone', '500', '600');
    expect(incrementalBase([full, i1, i2, orphan])).toEqual({ base: i2 });
  });

  test('no full backup → a reason, not a guess', () => {
    expect(incrementalBase([])).toEqual({ problem: 'there is no full backup to build on' });
    expect(incrementalBase([m('x', 'incremental', 'nope', '1', '2')])).toMatchObject({
      problem: expect.stringMatching(/no backup has an intact chain/),
    });
  });

  test('a corrupt member disqualifies every restore point built on it', () => {
    expect(newestIntactRestorePoint([full, i1, i2], new Set(['i1']))).toBe('f1');
    expect(newestIntactRestorePoint([full, i1, i2], new Set(['f1']))).toBeNull();
  });
});
