import { execa } from 'execa';
import {
  canonicalJson,
  diffDefinitions,
  normalizeDefinitions,
  parseDefinitions,
  redactDefinitions,
  summarizeDefinitions,
  type Definitions,
} from '../../core/control-plane/rabbitmq-definitions.js';
import {
  exportDefinitionsScript,
  importDefinitionsScript,
  parseStatus,
  rabbitmqctlCommand,
  statusScript,
} from '../../activities/rabbitmq/commands.js';
import { classifyRabbitmqError } from '../../activities/rabbitmq/classify.js';
import { rabbitmqCrossReferenceProblems, rabbitmqHostSchema } from '../../config/rabbitmq-schema.js';

const HASH_A = 'MsRDetirucbQrePE4MqffMlNZyej6UAqXoeTf8nL5VyXerW7';
const HASH_B = 'zZ9q0aP1yW2xV3uT4sR5qP6oN7mL8kJ9iH0gF1eD2cB3aA4b';

function sample(): Definitions {
  return {
    rabbit_version: '3.10.8',
    rabbitmq_version: '3.10.8',
    product_name: 'RabbitMQ',
    product_version: '3.10.8',
    users: [
      {
        name: 'nova',
        password_hash: HASH_A,
        hashing_algorithm: 'rabbit_password_hashing_sha256',
        tags: [],
        limits: {},
      },
      {
        name: 'guest',
        password_hash: HASH_A,
        hashing_algorithm: 'rabbit_password_hashing_sha256',
        tags: ['administrator'],
        limits: {},
      },
      {
        name: 'monitoring',
        password_hash: HASH_A,
        hashing_algorithm: 'rabbit_password_hashing_sha256',
        tags: ['monitoring', 'management'],
        limits: {},
      },
    ],
    vhosts: [
      { name: 'nova', limits: [], metadata: { description: 'nova', tags: ['openstack'] } },
      { name: '/', limits: [], metadata: { description: 'Default virtual host', tags: [] } },
      { name: 'cinder', limits: [['max-queues', 1000]], metadata: { description: '', tags: [] } },
    ],
    permissions: [
      { user: 'nova', vhost: 'nova', configure: '.*', write: '.*', read: '.*' },
      { user: 'guest', vhost: '/', configure: '.*', write: '.*', read: '.*' },
    ],
    topic_permissions: [
      { user: 'nova', vhost: 'nova', exchange: 'nova', write: '^notifications\\..*', read: '^notifications\\..*' },
    ],
    parameters: [],
    global_parameters: [{ name: 'internal_cluster_id', value: 'rabbitmq-cluster-id-AAAA' }],
    policies: [
      {
        vhost: 'nova',
        name: 'ha-all',
        pattern: '^(?!amq\\.).*',
        'apply-to': 'queues',
        definition: { 'ha-mode': 'all' },
        priority: 0,
      },
    ],
    queues: [
      {
        name: 'compute',
        vhost: 'nova',
        durable: true,
        auto_delete: false,
        arguments: { 'x-queue-type': 'classic' },
        type: 'classic',
      },
      { name: 'scheduler', vhost: 'nova', durable: true, auto_delete: false, arguments: {}, type: 'classic' },
      { name: 'heartbeat-probe', vhost: '/', durable: true, auto_delete: false, arguments: {}, type: 'classic' },
    ],
    exchanges: [
      { name: 'nova', vhost: 'nova', type: 'topic', durable: true, auto_delete: false, internal: false, arguments: {} },
    ],
    bindings: [
      {
        source: 'nova',
        vhost: 'nova',
        destination: 'compute',
        destination_type: 'queue',
        routing_key: 'compute',
        arguments: {},
      },
      {
        source: 'nova',
        vhost: 'nova',
        destination: 'scheduler',
        destination_type: 'queue',
        routing_key: 'scheduler',
        arguments: {},
      },
    ],
  };
}

/** The same content as another broker would export it: every section, item and tag list in another order. */
function shuffled(d: Definitions): Definitions {
  const revObj = (o: Record<string, unknown>) =>
    Object.fromEntries(
      Object.entries(o)
        .reverse()
        .map(([k, v]) => [k, k === 'tags' && Array.isArray(v) ? [...v].reverse() : v]),
    );
  return Object.fromEntries(
    Object.entries(d)
      .reverse()
      .map(([k, v]) => [k, Array.isArray(v) ? [...v].reverse().map((i) => revObj(i as Record<string, unknown>)) : v]),
  ) as Definitions;
}

const clone = (d: Definitions): Definitions & Record<string, any> => JSON.parse(JSON.stringify(d));

describe('normalizeDefinitions', () => {
  test('drops the version fields and the cluster id, sorts lists by identity', () => {
    const n = normalizeDefinitions(sample());
    expect(Object.keys(n)).not.toEqual(expect.arrayContaining(['rabbit_version']));
    for (const k of ['rabbit_version', 'rabbitmq_version', 'product_name', 'product_version'])
      expect(n).not.toHaveProperty(k);
    expect(n.global_parameters).toEqual([]);
    expect((n.users as { name: string }[]).map((u) => u.name)).toEqual(['guest', 'monitoring', 'nova']);
    expect((n.queues as { vhost: string; name: string }[]).map((q) => `${q.vhost}|${q.name}`)).toEqual([
      '/|heartbeat-probe',
      'nova|compute',
      'nova|scheduler',
    ]);
    expect((n.users as { tags: string[] }[])[1]!.tags).toEqual(['management', 'monitoring']);
  });

  test('order does not matter: a shuffled export normalizes to the same document', () => {
    expect(canonicalJson(normalizeDefinitions(shuffled(sample())) as never)).toBe(
      canonicalJson(normalizeDefinitions(sample()) as never),
    );
    expect(diffDefinitions(sample(), shuffled(sample()))).toEqual([]);
  });

  test('smooths version differences: comma-separated tags, vhost limits as pairs or object, queue type absent', () => {
    const old = clone(sample());
    old.users[2].tags = 'management,monitoring';
    old.vhosts[2].limits = { 'max-queues': 1000 };
    delete old.queues[1].type;
    delete old.queues[0].type;
    expect(diffDefinitions(sample(), old)).toEqual([]);
  });
});

describe('diffDefinitions', () => {
  test('names what the target lacks, what it has in addition, and what differs', () => {
    const target = clone(sample());
    target.queues = target.queues.filter((q: { name: string }) => q.name !== 'compute');
    target.queues.push({
      name: 'stale',
      vhost: 'nova',
      durable: true,
      auto_delete: false,
      arguments: {},
      type: 'classic',
    });
    target.users[1].tags = ['management'];
    target.policies[0].definition = { 'ha-mode': 'exactly', 'ha-params': 2 };
    target.bindings.pop();
    const messages = diffDefinitions(sample(), target).map((d) => d.message);
    expect(messages).toEqual([
      'user guest: tags differ (source ["administrator"], target ["management"])',
      'policy nova/ha-all: definition differs (source {"ha-mode":"all"}, target {"ha-mode":"exactly","ha-params":2})',
      'queue nova/compute: missing on target',
      'queue nova/stale: extra on target (not in the backup)',
      'binding nova/nova -> queue scheduler (key "scheduler"): missing on target',
    ]);
  });

  test('never prints a password hash', () => {
    const target = clone(sample());
    target.users[0].password_hash = HASH_B;
    const d = diffDefinitions(sample(), target);
    expect(d).toEqual([
      {
        kind: 'differs',
        section: 'users',
        id: 'nova',
        fields: ['password_hash'],
        message: 'user nova: password hash differs',
      },
    ]);
    expect(JSON.stringify(d)).not.toContain(HASH_A);
    expect(JSON.stringify(d)).not.toContain(HASH_B);
  });

  test('the default vhost is shown as %2F; a binding with other arguments is another binding', () => {
    const target = clone(sample());
    target.queues[2].durable = false;
    target.bindings[0].arguments = { 'x-match': 'all' };
    expect(diffDefinitions(sample(), target).map((d) => d.message)).toEqual([
      'queue %2F/heartbeat-probe: durable differs (source true, target false)',
      'binding nova/nova -> queue compute (key "compute"): missing on target',
      'binding nova/nova -> queue compute (key "compute") arguments {"x-match":"all"}: extra on target (not in the backup)',
    ]);
  });

  test('a whole section missing on the target, and a cluster id that is compared when asked', () => {
    const target = clone(sample());
    delete target.topic_permissions;
    target.global_parameters = [{ name: 'internal_cluster_id', value: 'rabbitmq-cluster-id-BBBB' }];
    expect(diffDefinitions(sample(), target).map((d) => d.message)).toEqual([
      'topic permission nova@nova exchange nova: missing on target',
    ]);
    expect(diffDefinitions(sample(), target, { ignoreGlobalParameters: [] }).map((d) => d.kind)).toEqual([
      'missing',
      'differs',
    ]);
  });

  test('parse, summarize and redact', () => {
    expect(() => parseDefinitions('{"queues": [')).toThrow(/not JSON/);
    expect(() => parseDefinitions('[]')).toThrow(/not a JSON object/);
    expect(summarizeDefinitions(sample())).toMatchObject({
      users: 3,
      vhosts: 3,
      queues: 3,
      bindings: 2,
      exchanges: 1,
      policies: 1,
    });
    expect(JSON.stringify(redactDefinitions(sample()))).not.toContain(HASH_A);
  });
});

describe('rabbitmq command scripts', () => {
  const lab = {
    containerRuntime: 'none' as const,
    rabbitmq: {
      rabbitmqctl: '/usr/lib/rabbitmq/bin/rabbitmqctl',
      nodeName: 'rabbit@localhost',
      env: { HOME: '/lab/ctl1/rabbitmq' },
    },
  };
  const kolla = { containerRuntime: 'docker' as const, rabbitmq: {} };

  test('bare host: env, node and the unwrapped CLI; Kolla host: docker exec into the rabbitmq container', () => {
    expect(rabbitmqctlCommand(lab, ['-q', 'status'])).toBe(
      'env HOME=/lab/ctl1/rabbitmq /usr/lib/rabbitmq/bin/rabbitmqctl -n rabbit@localhost -q status',
    );
    expect(exportDefinitionsScript(lab)).toContain('export_definitions - --format json --timeout 120');
    expect(exportDefinitionsScript(kolla)).toMatch(/^docker exec -i rabbitmq sh -c '/);
    expect(exportDefinitionsScript({ containerRuntime: 'podman', rabbitmq: { container: 'rmq' } })).toMatch(
      /^podman exec -i rmq sh -c /,
    );
    expect(statusScript(kolla)).toContain('rabbitmqctl -q status --formatter json');
  });

  test('the import keeps the file private, checks its hash, and removes it on every exit', () => {
    const s = importDefinitionsScript(kolla, { sha256: 'a'.repeat(64) });
    expect(s).toContain('umask 077');
    expect(s).toContain('trap');
    expect(s).toContain('sha256sum -c --status');
    expect(() => importDefinitionsScript(kolla, { sha256: 'nope' })).toThrow(/sha256/);
  });

  test('import script: stdin lands in a private file that is gone afterwards; a wrong hash stops before the import', async () => {
    // a fake rabbitmqctl that records the file it was given and its mode
    const dir = (await execa('mktemp', ['-d'])).stdout;
    await execa('sh', [
      '-c',
      `cat > ${dir}/rabbitmqctl <<'S'\n#!/bin/sh\nfor a; do f=$a; done\nstat -c %a "$f" > ${dir}/mode; cat "$f" > ${dir}/got; echo "$f" > ${dir}/path\nS\nchmod +x ${dir}/rabbitmqctl`,
    ]);
    const host = { containerRuntime: 'none' as const, rabbitmq: { rabbitmqctl: `${dir}/rabbitmqctl` } };
    const body = '{"queues":[]}';
    const sha = (await execa('sha256sum', { input: body })).stdout.slice(0, 64);
    await execa('sh', ['-c', importDefinitionsScript(host, { sha256: sha })], { input: body, env: { TMPDIR: dir } });
    expect((await execa('cat', [`${dir}/got`])).stdout).toBe(body);
    expect((await execa('cat', [`${dir}/mode`])).stdout).toBe('600');
    const path = (await execa('cat', [`${dir}/path`])).stdout;
    await expect(execa('test', ['-e', path])).rejects.toThrow();
    const bad = await execa('sh', ['-c', importDefinitionsScript(host, { sha256: 'b'.repeat(64) })], {
      input: body,
      env: { TMPDIR: dir },
      reject: false,
    });
    expect(bad.exitCode).toBe(95);
    const none = await execa('sh', ['-c', importDefinitionsScript(host)], {
      input: '',
      env: { TMPDIR: dir },
      reject: false,
    });
    expect(none.exitCode).toBe(96);
    const missing = await execa(
      'sh',
      [
        '-c',
        exportDefinitionsScript({ containerRuntime: 'none', rabbitmq: { rabbitmqctl: '/nonexistent/rabbitmqctl' } }),
      ],
      { reject: false },
    );
    expect(missing.exitCode).toBe(127);
    expect(classifyRabbitmqError('ctl1', 'export', missing.exitCode ?? null, missing.stderr).type).toBe(
      'RemoteCommandFailed',
    );
    await execa('rm', ['-rf', dir]);
  });

  test('status JSON', () => {
    expect(
      parseStatus('{"rabbitmq_version":"3.10.8","erlang_version":"Erlang/OTP 25 [erts-13.1.5]\\n","alarms":[]}'),
    ).toEqual({ rabbitmqVersion: '3.10.8', erlangVersion: 'Erlang/OTP 25 [erts-13.1.5]', alarms: [] });
    expect(() => parseStatus('Error: x')).toThrow(/did not print JSON/);
  });
});

describe('classifyRabbitmqError', () => {
  const boiler = (diag: string) =>
    `Error: unable to perform an operation on node 'rabbit@localhost'. Please see diagnostics information and suggestions below.\n\nMost common reasons for this are:\n\n * Target node is unreachable (e.g. due to hostname resolution, TCP connection or firewall issues)\n * CLI tool fails to authenticate with the server (e.g. due to CLI tool's Erlang cookie not matching that of the server)\n * Target node is not running\n\nDIAGNOSTICS\n===========\n\nattempted to contact: [rabbit@localhost]\n\nrabbit@localhost:\n${diag}\n\nCurrent node details:\n * node name: 'rabbitmqcli-23-rabbit@vm'\n * effective user's home directory: /root\n * Erlang cookie hash: eBvV8M32jyrgpl1Oqssp0Q==\n`;
  test.each([
    [
      'cookie',
      boiler(
        "  * connected to epmd (port 4369) on localhost\n  * epmd reports node 'rabbit' uses port 25672 for inter-node and CLI tool traffic \n  * TCP connection succeeded but Erlang distribution failed \n  * suggestion: check if the Erlang cookie is identical for all server nodes and CLI tools",
      ),
      69,
      'RabbitmqAuthFailed',
      true,
      /Erlang cookie differs/,
    ],
    [
      'not running',
      boiler(
        "  * connected to epmd (port 4369) on localhost\n  * epmd reports: node 'rabbit' not running at all\n                  other nodes on localhost: ['rabbitmqcli-389-rabbit']\n  * suggestion: start the node",
      ),
      69,
      'RabbitmqUnreachable',
      false,
      /not running/,
    ],
    [
      'no epmd',
      boiler('  * unable to connect to epmd (port 4369) on localhost: address (cannot connect to host/port)'),
      69,
      'RabbitmqUnreachable',
      false,
      /not running/,
    ],
    [
      'wrong node',
      boiler(
        "  * connected to epmd (port 4369) on localhost\n  * epmd reports: node 'rabbit2' not running at all\n                  other nodes on localhost: [rabbit,'rabbitmqcli-1-rabbit']\n  * suggestion: start the node",
      ),
      69,
      'RabbitmqNodeUnknown',
      true,
      /epmd knows rabbit/,
    ],
    [
      'unresolvable node host',
      boiler('  * unable to connect to epmd (port 4369) on ctl1: nxdomain (non-existing domain)'),
      69,
      'RabbitmqNodeUnknown',
      true,
      /does not resolve/,
    ],
    ['not installed', 'sh: 1: rabbitmqctl: not found', 127, 'RemoteCommandFailed', true, /not installed/],
    [
      'container gone',
      'Error response from daemon: No such container: rabbitmq',
      1,
      'RabbitmqUnreachable',
      false,
      /container is missing/,
    ],
    [
      'bad file',
      'Error:\nFailed to deserialise input (format: JSON) (error: :unexpected_end_of_buffer)',
      65,
      'RabbitmqDefinitionsRejected',
      true,
      /rejected the definitions/,
    ],
  ])('%s', (_name, stderr, code, type, nonRetryable, msg) => {
    const f = classifyRabbitmqError('ctl1', 'export definitions', code, stderr);
    expect(f.type).toBe(type);
    expect(f.nonRetryable).toBe(nonRetryable);
    expect(f.message).toMatch(msg);
    expect(f.message).toMatch(/Fix:|If it persists:/);
    expect(f.message).not.toContain('Most common reasons');
  });
});

describe('config proposal', () => {
  test('defaults, and no cookie in the environment', () => {
    expect(rabbitmqHostSchema.parse({})).toEqual({
      container: 'rabbitmq',
      rabbitmqctl: 'rabbitmqctl',
      env: {},
      timeoutSeconds: 120,
    });
    expect(rabbitmqHostSchema.safeParse({ env: { RABBITMQ_ERLANG_COOKIE: 'x' } }).success).toBe(false);
    expect(rabbitmqHostSchema.safeParse({ nodeName: 'rabbit' }).success).toBe(false);
    expect(
      rabbitmqCrossReferenceProblems({ clouds: { lab: { hosts: { ctl1: {} }, rabbitmq: { host: 'ctl1' } } } }),
    ).toEqual([{ path: 'clouds.lab.hosts.ctl1.rabbitmq', message: expect.stringContaining('required') }]);
    expect(
      rabbitmqCrossReferenceProblems({ clouds: { lab: { hosts: {}, rabbitmq: { host: 'ctl9' } } } })[0]!.path,
    ).toBe('clouds.lab.rabbitmq.host');
  });
});
