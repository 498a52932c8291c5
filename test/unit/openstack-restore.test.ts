import fc from 'fast-check';
import {
  chooseFlavor,
  chooseSnapshot,
  serverNetworks,
  takenAt,
  type FlavorInfo,
  type SnapshotCandidate,
} from '../../core/openstack/restore.js';
import { planImageCreate } from '../../core/openstack/image.js';
import { marks } from '../../core/openstack/resources.js';
import { newImageManifest, type ImageManifest } from '../../core/openstack/image.js';

const VOL = '11111111-1111-1111-1111-111111111111';
const snap = (id: string, taken: string, o: Partial<SnapshotCandidate> = {}): SnapshotCandidate => ({
  id,
  name: `backup_${VOL}_${taken.slice(0, 10).replace(/-/g, '')}`,
  volumeId: VOL,
  status: 'available',
  createdAt: taken.replace('Z', '').replace(/\.\d+$/, ''),
  sizeGiB: 1,
  metadata: marks('prod', `run-${id}`, taken),
  ...o,
});

describe('chooseSnapshot', () => {
  const list = [
    snap('a', '2026-11-01T02:00:00.000Z'),
    snap('b', '2026-11-02T02:00:00.000Z'),
    snap('c', '2026-11-03T02:00:00.000Z'),
  ];

  test("--volume: the newest of osbackup's available snapshots; --at picks the newest at or before it", () => {
    expect(chooseSnapshot(list, { volumeId: VOL }, 'prod')).toMatchObject({ ok: true, snapshot: { id: 'c' } });
    expect(chooseSnapshot(list, { volumeId: VOL, at: '2026-11-02T12:00:00Z' }, 'prod')).toMatchObject({
      ok: true,
      snapshot: { id: 'b' },
    });
    expect(chooseSnapshot(list, { volumeId: VOL, at: '2026-11-02T02:00:00.000Z' }, 'prod')).toMatchObject({
      ok: true,
      snapshot: { id: 'b' },
    });
    expect(chooseSnapshot(list, { volumeId: VOL, at: '2026-11-02' }, 'prod')).toMatchObject({
      ok: true,
      snapshot: { id: 'a' },
    });
  });

  test("--volume ignores operator snapshots, other clouds' snapshots, snapshots of other volumes and ones not available", () => {
    const noise = [
      snap('op', '2026-11-04T00:00:00.000Z', { metadata: {} }),
      snap('other-cloud', '2026-11-04T00:00:00.000Z', { metadata: marks('staging', 'r', '2026-11-04T00:00:00.000Z') }),
      snap('other-vol', '2026-11-04T00:00:00.000Z', { volumeId: 'x' }),
      snap('err', '2026-11-04T00:00:00.000Z', { status: 'error' }),
    ];
    expect(chooseSnapshot([...list, ...noise], { volumeId: VOL }, 'prod')).toMatchObject({
      ok: true,
      snapshot: { id: 'c' },
    });
  });

  test('nothing at or before --at: refused, listing what there is', () => {
    const r = chooseSnapshot(list, { volumeId: VOL, at: '2026-10-01' }, 'prod');
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.reason).toMatch(
        /no available osbackup snapshot of volume 1111.* taken at or before 2026-10-01 \(osbackup's snapshots of it: a 2026-11-01T02:00:00.000Z available; b/,
      );
    const none = chooseSnapshot([], { volumeId: VOL }, 'prod');
    expect(none).toMatchObject({ ok: false, fix: expect.stringMatching(/osbackup backup volumes/) });
    expect(chooseSnapshot(list, { volumeId: VOL, at: 'yesterday' }, 'prod')).toMatchObject({
      ok: false,
      reason: '"yesterday" is not a date',
    });
  });

  test("--snapshot by id or name (any snapshot, not only osbackup's); an ambiguous name or an unavailable one refused", () => {
    const op = snap('op', '2026-11-04T00:00:00.000Z', { name: 'before-upgrade', metadata: {} });
    expect(chooseSnapshot([...list, op], { snapshot: 'op' }, 'prod')).toMatchObject({
      ok: true,
      snapshot: { id: 'op' },
    });
    expect(chooseSnapshot([...list, op], { snapshot: 'before-upgrade' }, 'prod')).toMatchObject({
      ok: true,
      snapshot: { id: 'op' },
    });
    const twins = [op, { ...op, id: 'op2' }];
    expect(chooseSnapshot(twins, { snapshot: 'before-upgrade' }, 'prod')).toMatchObject({
      ok: false,
      reason: '2 snapshots are named "before-upgrade" (op, op2)',
    });
    expect(chooseSnapshot([{ ...op, status: 'creating' }], { snapshot: 'op' }, 'prod')).toMatchObject({
      ok: false,
      reason: 'snapshot op is creating, not available',
    });
    expect(chooseSnapshot(list, { snapshot: 'nope' }, 'prod')).toMatchObject({ ok: false });
  });

  test("taken at: the mark when there is one, else Cinder's created_at read as UTC", () => {
    expect(takenAt(snap('a', '2026-11-01T02:00:00.000Z'))).toBe(Date.parse('2026-11-01T02:00:00Z'));
    expect(
      takenAt(snap('a', '2026-11-01T02:00:00.000Z', { metadata: {}, createdAt: '2026-11-05T03:04:05.000000' })),
    ).toBe(Date.parse('2026-11-05T03:04:05Z'));
  });

  test('property: the choice is available, ours, at or before --at, and no usable snapshot is newer', () => {
    const cand = fc.record({
      id: fc.uuid(),
      t: fc.integer({ min: 0, max: 1000 }),
      ours: fc.boolean(),
      ok: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(cand, { maxLength: 20 }),
        fc.option(fc.integer({ min: 0, max: 1000 }), { nil: undefined }),
        (cs, atH) => {
          const base = Date.parse('2026-01-01T00:00:00Z');
          const iso = (h: number) => new Date(base + h * 3600_000).toISOString();
          const list = cs.map((c) =>
            snap(c.id, iso(c.t), {
              status: c.ok ? 'available' : 'error',
              metadata: c.ours ? marks('prod', 'r', iso(c.t)) : {},
            }),
          );
          const at = atH === undefined ? undefined : iso(atH);
          const r = chooseSnapshot(list, { volumeId: VOL, at }, 'prod');
          const usable = cs.filter((c) => c.ours && c.ok && (atH === undefined || c.t <= atH));
          expect(r.ok).toBe(usable.length > 0);
          if (r.ok) {
            const max = Math.max(...usable.map((c) => c.t));
            expect(takenAt(r.snapshot)).toBe(base + max * 3600_000);
            expect(usable.some((c) => c.id === r.snapshot.id)).toBe(true);
          }
        },
      ),
    );
  });
});

const recorded = (
  properties: Record<string, unknown>,
  o: Partial<ImageManifest['image']> = {},
): ImageManifest['image'] => ({
  id: 'img-1',
  name: 'golden',
  status: 'active',
  disk_format: 'qcow2',
  container_format: 'bare',
  visibility: 'public',
  tags: ['golden', 'linux'],
  size: 123,
  os_hash_algo: 'sha512',
  os_hash_value: 'ab'.repeat(64),
  checksum: 'cd'.repeat(16),
  properties,
  ...o,
});

describe('planImageCreate', () => {
  test("formats, visibility, tags, min_disk/min_ram, os_hidden and custom properties restored; Glance's and osbackup's own left out, with reasons", () => {
    const p = planImageCreate(
      recorded({
        min_disk: 2,
        min_ram: 512,
        os_hidden: false,
        os_distro: 'debian',
        hw_disk_bus: 'virtio',
        instance_uuid: 'srv-1',
        image_type: 'snapshot',
        os_glance_import_task: 'x',
        virtual_size: 1024,
        locations: [],
        protected: true,
        osbackup: 'true',
        osbackup_run: 'backup-run',
        osbackup_cloud: 'prod',
        osbackup_taken_at: '2026-11-30T00:00:00Z',
        description: null,
        weird: { nested: 1 },
      }),
      { runId: 'restore-image:prod:1', from: 'export:prod/img-1' },
    );
    expect(p.body).toEqual({
      name: 'golden',
      disk_format: 'qcow2',
      container_format: 'bare',
      visibility: 'public',
      tags: ['golden', 'linux'],
      min_disk: 2,
      min_ram: 512,
      os_hidden: false,
      os_distro: 'debian',
      hw_disk_bus: 'virtio',
      instance_uuid: 'srv-1',
      image_type: 'snapshot',
      osbackup_restore_run: 'restore-image:prod:1',
      osbackup_restored_from: 'export:prod/img-1',
    });
    expect(Object.fromEntries(p.skipped.map((x) => [x.key, x.reason]))).toEqual({
      os_glance_import_task: 'owned by Glance',
      virtual_size: 'owned by Glance',
      locations: 'owned by Glance',
      protected: 'set it after checking the image (`openstack image set --protected`)',
      osbackup: "osbackup's mark of the exported copy",
      osbackup_run: "osbackup's mark of the exported copy",
      osbackup_cloud: "osbackup's mark of the exported copy",
      osbackup_taken_at: "osbackup's mark of the exported copy",
      description: 'no value',
      weird: 'not a string (Glance stores only string properties): {"nested":1}',
    });
    // never osbackup=true: retention must not take a re-imported image for one of its copies
    expect(p.body.osbackup).toBeUndefined();
  });

  test('name and visibility overrides; defaults for a sparse record', () => {
    const p = planImageCreate(
      recorded({}, { name: null, disk_format: null, container_format: null, visibility: null, tags: [] }),
      { name: 'again', runId: 'r', from: 'f', visibility: 'private' },
    );
    expect(p.body).toEqual({
      name: 'again',
      disk_format: 'raw',
      container_format: 'bare',
      visibility: 'private',
      osbackup_restore_run: 'r',
      osbackup_restored_from: 'f',
    });
    expect(planImageCreate(recorded({}, { name: null }), { runId: 'r', from: 'f' }).body.name).toBe('img-1');
  });

  test('typed attributes with the wrong type are reported, not sent', () => {
    const p = planImageCreate(recorded({ min_ram: '512', os_hidden: 'yes' }), { runId: 'r', from: 'f' });
    expect(p.body.min_ram).toBeUndefined();
    expect(p.skipped).toEqual([
      { key: 'min_ram', reason: 'not an integer ("512")' },
      { key: 'os_hidden', reason: 'not a boolean ("yes")' },
    ]);
  });
});

describe('RESTORE.md of an image export', () => {
  test('the openstack image create recipe carries the same attributes the re-import sends, with typed flags', () => {
    const m = newImageManifest({
      id: 'img-1',
      cloud: 'prod',
      startedAt: '2026-11-30T00:00:00Z',
      completedAt: '2026-11-30T00:01:00Z',
      workflowId: 'wf',
      image: recorded({
        min_disk: 2,
        min_ram: 512,
        os_distro: 'debian',
        note: "it's here",
        osbackup: 'true',
        osbackup_run: 'x',
      }),
      parts: [
        {
          file: 'image.qcow2.zst.gpg',
          sha256: 'e'.repeat(64),
          bytes: 10,
          plainBytes: 123,
          plainSha512: 'ab'.repeat(64),
        },
      ],
      compression: { format: 'zstd', level: 3 },
      encryption: { format: 'openpgp', cipher: 'AES256', passphrase: false, recipientFingerprints: ['F'] },
      tools: { zstd: '1', gpg: '2', osbackup: '3' },
    });
    const r = m.restoreRecipe;
    expect(r).toContain('gpg --decrypt image.qcow2.zst.gpg | zstd -d > image.qcow2');
    const cmd = r
      .slice(r.indexOf('openstack image create'))
      .split('\n\n')[0]!
      .replace(/\\\n\s*/g, '');
    expect(cmd).toBe(
      `openstack image create --disk-format qcow2 --container-format bare --public --min-disk 2 --min-ram 512 --tag golden --tag linux --property 'note=it'\\''s here' --property os_distro=debian --file image.qcow2 golden`,
    );
    expect(r).toContain(`must equal ${'ab'.repeat(64)}`);
  });
});

describe('chooseFlavor', () => {
  const flavors: FlavorInfo[] = [
    { id: '1', name: 'm1.tiny', vcpus: 1, ram: 512, disk: 1 },
    { id: '2', name: 'm1.small', vcpus: 1, ram: 2048, disk: 20 },
    { id: '3', name: 'm1.medium', vcpus: 2, ram: 4096, disk: 40 },
    { id: '4', name: 'bfv', vcpus: 1, ram: 1024, disk: 0 },
  ];
  test("the smallest flavor meeting min_ram, min_disk and the image's size; disk 0 fits any size", () => {
    expect(chooseFlavor(flavors, undefined, { minRamMiB: 0, minDiskGiB: 0, sizeBytes: 10 << 20 })).toMatchObject({
      ok: true,
      flavor: { name: 'm1.tiny' },
    });
    expect(chooseFlavor(flavors, undefined, { minRamMiB: 600, minDiskGiB: 0, sizeBytes: null })).toMatchObject({
      ok: true,
      flavor: { name: 'bfv' },
    });
    expect(chooseFlavor(flavors, undefined, { minRamMiB: 2048, minDiskGiB: 30, sizeBytes: null })).toMatchObject({
      ok: true,
      flavor: { name: 'm1.medium' },
    });
    expect(chooseFlavor(flavors, undefined, { minRamMiB: 8192, minDiskGiB: 0, sizeBytes: null })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/no flavor meets/),
    });
  });
  test('a named flavor (id or name) is used when big enough, refused when not or unknown', () => {
    expect(chooseFlavor(flavors, '2', { minRamMiB: 0, minDiskGiB: 0, sizeBytes: null })).toMatchObject({
      ok: true,
      flavor: { name: 'm1.small' },
    });
    expect(chooseFlavor(flavors, 'm1.small', { minRamMiB: 0, minDiskGiB: 0, sizeBytes: null })).toMatchObject({
      ok: true,
      flavor: { id: '2' },
    });
    expect(chooseFlavor(flavors, 'm1.tiny', { minRamMiB: 0, minDiskGiB: 0, sizeBytes: 3 * 2 ** 30 })).toMatchObject({
      ok: false,
      reason: 'flavor m1.tiny (512 MiB, 1 GiB) is smaller than the image needs (0 MiB RAM, 3 GiB disk)',
    });
    expect(chooseFlavor(flavors, 'xl', { minRamMiB: 0, minDiskGiB: 0, sizeBytes: null })).toMatchObject({
      ok: false,
      reason: 'no flavor "xl" (flavors: m1.tiny, m1.small, m1.medium, bfv)',
    });
  });
});

test('serverNetworks: auto by default, none, or ports on the named networks', () => {
  expect(serverNetworks(undefined)).toBe('auto');
  expect(serverNetworks(['auto'])).toBe('auto');
  expect(serverNetworks(['none'])).toBe('none');
  expect(serverNetworks(['n1', 'n2'])).toEqual([{ uuid: 'n1' }, { uuid: 'n2' }]);
});
