import {
  chooseDonors,
  findWriter,
  parseGaleraInfo,
  unhealthyReason,
  type GaleraNodeState,
} from '../../core/galera/donor.js';

const synced = (host: string, extra: Partial<GaleraNodeState> = {}): GaleraNodeState => ({
  host,
  reachable: true,
  state: 'Synced',
  clusterStatus: 'Primary',
  ready: true,
  clusterSize: 3,
  desync: false,
  localCommitsDelta: 0,
  ...extra,
});
const policy = { nodes: ['g1', 'g2', 'g3'], prefer: [] as string[] };

describe('Galera donor choice', () => {
  test('the configured writer is tried last; the others in config order', () => {
    const c = chooseDonors([synced('g1'), synced('g2'), synced('g3')], { ...policy, writer: 'g1' });
    expect(c).toMatchObject({ candidates: ['g2', 'g3', 'g1'], writer: 'g1', writerFrom: 'config', skipped: [] });
  });

  test('without a configured writer, the only node whose commits grew is the writer', () => {
    const c = chooseDonors(
      [synced('g1'), synced('g2', { localCommitsDelta: 40 }), synced('g3', { localCommitsDelta: 0 })],
      policy,
    );
    expect(c).toMatchObject({ candidates: ['g1', 'g3', 'g2'], writer: 'g2', writerFrom: 'observed' });
  });

  test('no growth, or a tie, names no writer rather than guessing', () => {
    expect(findWriter([synced('g1'), synced('g2')], policy)).toEqual({ writer: null, from: 'none' });
    expect(
      findWriter([synced('g1', { localCommitsDelta: 5 }), synced('g2', { localCommitsDelta: 5 })], policy),
    ).toEqual({ writer: null, from: 'none' });
    expect(
      findWriter([synced('g1', { localCommitsDelta: 5 }), synced('g2', { localCommitsDelta: 9 })], policy),
    ).toEqual({ writer: 'g2', from: 'observed' });
  });

  test('preferred nodes come first, in their order', () => {
    expect(
      chooseDonors([synced('g1'), synced('g2'), synced('g3')], { ...policy, prefer: ['g3', 'g2'] }).candidates,
    ).toEqual(['g3', 'g2', 'g1']);
  });

  test('unhealthy, desynced and excluded nodes are skipped with the reason', () => {
    const c = chooseDonors(
      [
        synced('g1', { reachable: false, error: "Can't connect" }),
        synced('g2', { state: 'Donor/Desynced', desync: true, desyncMarker: 'full-x' }),
        synced('g3', { state: 'Joining' }),
      ],
      policy,
    );
    expect(c.candidates).toEqual([]);
    expect(c.skipped.map((s) => s.reason)).toEqual([
      expect.stringMatching(/not answering \(Can't connect\)/),
      expect.stringMatching(/already desynced .*left by osbackup backup full-x/),
      'not Synced (Joining)',
    ]);
    const e = chooseDonors([synced('g1'), synced('g2'), synced('g3')], policy, ['g1']);
    expect(e.candidates).toEqual(['g2', 'g3']);
    expect(e.skipped).toEqual([{ host: 'g1', reason: 'failed as the donor earlier in this backup' }]);
  });

  test('a node outside the primary component or not ready is not a donor', () => {
    expect(unhealthyReason(synced('g1', { clusterStatus: 'non-Primary' }))).toMatch(/primary component/);
    expect(unhealthyReason(synced('g1', { ready: false }))).toMatch(/wsrep_ready/);
    expect(unhealthyReason(synced('g1'))).toBeNull();
  });

  test('the writer serves when it is the only healthy node', () => {
    expect(
      chooseDonors([synced('g1'), synced('g2', { state: 'Joiner' }), synced('g3', { reachable: false })], {
        ...policy,
        writer: 'g1',
      }).candidates,
    ).toEqual(['g1']);
  });

  test('xtrabackup_galera_info is parsed; anything else is refused', () => {
    expect(parseGaleraInfo('c9833fbd-ec86-11f1-b10b-f3a6454345e8:27')).toEqual({
      clusterUuid: 'c9833fbd-ec86-11f1-b10b-f3a6454345e8',
      seqno: 27,
    });
    expect(parseGaleraInfo('c9833fbd-ec86-11f1-b10b-f3a6454345e8:1234 0-1-77\n')).toEqual({
      clusterUuid: 'c9833fbd-ec86-11f1-b10b-f3a6454345e8',
      seqno: 1234,
    });
    expect(parseGaleraInfo('')).toBeNull();
    expect(parseGaleraInfo('garbage:12')).toBeNull();
  });
});
