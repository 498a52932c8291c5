import { parseConfig } from '../../config/load.js';
import { cloudYaml, configProblems, configYaml } from '../helpers/config-fixture.js';
import {
  clusterProblem,
  ClusterRestorePlanError,
  grastateText,
  planClusterRestore,
  strandedAdvice,
  UNKNOWN_POSITION,
  type ClusterRestoreSettings,
} from '../../core/galera/restore-plan.js';

const cmd = (h: string, bootstrap: boolean) => ({
  start: `start ${h}`,
  stop: `stop ${h}`,
  bootstrap: bootstrap ? `bootstrap ${h}` : null,
  datadir: `/data/${h}`,
});
const settings = (withBootstrap: string[]): ClusterRestoreSettings => ({
  nodes: ['g1', 'g2', 'g3'],
  commands: Object.fromEntries(['g1', 'g2', 'g3'].map((h) => [h, cmd(h, withBootstrap.includes(h))])),
});

function planError(f: () => unknown): ClusterRestorePlanError {
  try {
    f();
  } catch (e) {
    if (e instanceof ClusterRestorePlanError) return e;
    throw e;
  }
  throw new Error('no error');
}

describe('Galera cluster restore plan', () => {
  test('default: the first configured node that can bootstrap; the others rejoin in config order, stopped before it', () => {
    expect(planClusterRestore('c', settings(['g1', 'g2']))).toEqual({
      bootstrap: 'g1',
      joiners: ['g2', 'g3'],
      stopOrder: ['g2', 'g3', 'g1'],
    });
    expect(planClusterRestore('c', settings(['g2', 'g3']))).toEqual({
      bootstrap: 'g2',
      joiners: ['g1', 'g3'],
      stopOrder: ['g1', 'g3', 'g2'],
    });
  });

  test('--bootstrap picks the node', () => {
    expect(planClusterRestore('c', settings(['g1', 'g2']), 'g2')).toEqual({
      bootstrap: 'g2',
      joiners: ['g1', 'g3'],
      stopOrder: ['g1', 'g3', 'g2'],
    });
  });

  test('a cloud without a galera section is refused, pointing at restore db', () => {
    const e = planError(() => planClusterRestore('single', null));
    expect(e.message).toMatch(/cloud single is not a Galera cluster/);
    expect(e.fix).toMatch(/osbackup restore db/);
  });

  test('an unknown node or one without a bootstrap command is refused with the fix', () => {
    expect(planError(() => planClusterRestore('c', settings(['g1']), 'g9')).message).toMatch(
      /--bootstrap g9 is not a node .*g1, g2, g3/,
    );
    const e = planError(() => planClusterRestore('c', settings(['g1']), 'g3'));
    expect(e.message).toMatch(/g3 has no bootstrap command \(clouds\.c\.hosts\.g3\.mariadb\.bootstrapCommand\)/);
    expect(e.fix).toMatch(/or bootstrap from g1/);
    expect(planError(() => planClusterRestore('c', settings([]))).fix).toMatch(/bootstrapCommand on at least one node/);
  });
});

describe('grastate.dat', () => {
  test('the recorded position with safe_to_bootstrap 1', () => {
    expect(grastateText({ clusterUuid: 'f1e5d3a2-0c1b-11ef-9a2b-6b1f0c3d4e5f', seqno: 1234 })).toBe(
      '# GALERA saved state\nversion: 2.1\nuuid:    f1e5d3a2-0c1b-11ef-9a2b-6b1f0c3d4e5f\nseqno:   1234\nsafe_to_bootstrap: 1\n',
    );
    expect(grastateText(UNKNOWN_POSITION)).toMatch(/seqno: {3}-1\nsafe_to_bootstrap: 1/);
  });

  test('anything else is refused rather than written', () => {
    expect(() => grastateText({ clusterUuid: 'x; rm -rf /', seqno: 1 })).toThrow(/not a cluster UUID/);
    expect(() => grastateText({ clusterUuid: UNKNOWN_POSITION.clusterUuid, seqno: 1.5 })).toThrow(/not a seqno/);
  });
});

describe('cluster checks and advice', () => {
  test('a node is healthy only Synced (4), Primary, in a cluster of every node', () => {
    expect(
      clusterProblem({ host: 'g1', reachable: true, clusterSize: 3, localState: 4, clusterStatus: 'Primary' }, 3),
    ).toBeNull();
    expect(
      clusterProblem({ host: 'g2', reachable: true, clusterSize: 2, localState: 1, clusterStatus: 'Primary' }, 3),
    ).toBe('g2: wsrep_cluster_size 2 (want 3), wsrep_local_state 1 (want 4, Synced)');
    expect(
      clusterProblem({ host: 'g3', reachable: true, clusterSize: 1, localState: 4, clusterStatus: 'non-Primary' }, 1),
    ).toBe('g3: wsrep_cluster_status non-Primary (want Primary)');
    expect(clusterProblem({ host: 'g3', reachable: false }, 3)).toBe('g3 does not answer');
  });

  test('stranded nodes: the bootstrap node first with its bootstrap command, then the others', () => {
    const s = settings(['g1']);
    const plan = planClusterRestore('c', s);
    const a = strandedAdvice(plan, s, ['g1', 'g2', 'g3'], false);
    expect(a).toMatch(/^not running: g1, g2, g3\. start g1 first as a new cluster: `bootstrap g1`/);
    expect(a).toMatch(/then g2: `start g2`; g3: `start g3`/);
    expect(a.indexOf('bootstrap g1')).toBeLessThan(a.indexOf('start g2'));
    // the cluster already runs on the bootstrap node: only the joiners are named
    expect(strandedAdvice(plan, s, ['g3'], true)).toBe(
      'not running: g3. then g3: `start g3` (an emptied datadir takes a full SST)',
    );
    expect(strandedAdvice(plan, s, [], true)).toBe('every node answers');
  });
});

describe('mariadb.bootstrapCommand in the config', () => {
  // the fixture's cloud, its ctl1 MariaDB section given `bootstrap` inside the same map
  const config = (bootstrap: string) =>
    configYaml(
      cloudYaml('prod').replace(
        'startCommand: [systemctl, start, mariadb] }',
        `startCommand: [systemctl, start, mariadb]${bootstrap} }`,
      ),
    );
  test('optional; an argv when given', () => {
    expect(parseConfig(config('')).clouds.prod!.hosts.ctl1!.mariadb!.bootstrapCommand).toBeUndefined();
    expect(
      parseConfig(config(', bootstrapCommand: [galera_new_cluster]')).clouds.prod!.hosts.ctl1!.mariadb!
        .bootstrapCommand,
    ).toEqual(['galera_new_cluster']);
  });

  test('an empty command is refused with its path', () => {
    expect(configProblems(config(', bootstrapCommand: []'))['clouds.prod.hosts.ctl1.mariadb.bootstrapCommand']).toMatch(
      /must name a command/,
    );
  });
});
