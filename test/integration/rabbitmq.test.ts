// RabbitMQ definitions: backup -> restore into a fresh broker -> definitions equal. Runs against
// brokers made by test/lab/rabbitmq.sh; the scripts are the ones the activities send over SSH,
// run here through `ip netns exec` + bash on the host namespace. Skipped unless the env names them:
//   RMQ_NETNS_A, RMQ_HOSTDIR_A  a running, populated broker (the source)
//   RMQ_NETNS_B, RMQ_HOSTDIR_B, RMQ_ADDRESS_B  the restore target (reset to an empty broker here)
//   RMQ_PROBE_OUT  optional: a file for the measured timings (JSON)
// test/lab/rabbitmq-probe.sh sets all of that up and tears it down.
import { writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { execa } from 'execa';
import { exportDefinitionsScript, importDefinitionsScript, parseStatus, statusScript, type RabbitmqHost } from '../../activities/rabbitmq/commands.js';
import { classifyRabbitmqError } from '../../activities/rabbitmq/classify.js';
import { diffDefinitions, parseDefinitions, summarizeDefinitions } from '../../workflows/lib/rabbitmq-definitions.js';

const env = process.env;
const ready = Boolean(env.RMQ_NETNS_A && env.RMQ_HOSTDIR_A && env.RMQ_NETNS_B && env.RMQ_HOSTDIR_B && env.RMQ_ADDRESS_B);
const labScript = join(import.meta.dirname ?? 'test/integration', '../lab/rabbitmq.sh');

/** The lab's host settings (see config/rabbitmq-schema.ts). */
const labHost = (hostdir: string): RabbitmqHost => ({
  containerRuntime: 'none',
  rabbitmq: { rabbitmqctl: '/usr/lib/rabbitmq/bin/rabbitmqctl', nodeName: 'rabbit@localhost', env: { HOME: `${hostdir}/rabbitmq` } },
});

async function onHost(netns: string, script: string, input?: string) {
  const t0 = performance.now();
  const r = await execa('ip', ['netns', 'exec', netns, 'bash', '-c', script], { input, reject: false, stripFinalNewline: false });
  return { ...r, seconds: (performance.now() - t0) / 1000 };
}

(ready ? describe : describe.skip)('RabbitMQ definitions backup and restore', () => {
  const A = { ns: env.RMQ_NETNS_A!, host: labHost(env.RMQ_HOSTDIR_A!) };
  const B = { ns: env.RMQ_NETNS_B!, dir: env.RMQ_HOSTDIR_B!, host: labHost(env.RMQ_HOSTDIR_B!) };
  const timings: Record<string, number> = {};

  test('export from A, import into a fresh B, export B: no differences', async () => {
    const st = await onHost(A.ns, statusScript(A.host));
    expect(st.exitCode).toBe(0);
    expect(parseStatus(st.stdout).rabbitmqVersion).toMatch(/^3\./);
    timings.statusSeconds = st.seconds;

    const exp = await onHost(A.ns, exportDefinitionsScript(A.host));
    if (exp.exitCode !== 0) throw classifyRabbitmqError(A.ns, 'export definitions', exp.exitCode ?? null, exp.stderr);
    timings.exportSeconds = exp.seconds;
    timings.definitionsBytes = Buffer.byteLength(exp.stdout);
    const source = parseDefinitions(exp.stdout);
    expect(summarizeDefinitions(source)).toMatchObject({ vhosts: 4, users: 6 });
    expect((source.queues as unknown[]).length).toBeGreaterThanOrEqual(20);

    const t0 = performance.now();
    await execa('bash', [labScript, 'reset', B.ns, B.dir, env.RMQ_ADDRESS_B!], { stdio: 'inherit' });
    timings.resetSeconds = (performance.now() - t0) / 1000;
    const fresh = parseDefinitions((await onHost(B.ns, exportDefinitionsScript(B.host))).stdout);
    expect(diffDefinitions(source, fresh).filter((d) => d.kind === 'missing').length).toBeGreaterThan(20);

    const sha256 = createHash('sha256').update(exp.stdout).digest('hex');
    const imp = await onHost(B.ns, importDefinitionsScript(B.host, { sha256 }), exp.stdout);
    if (imp.exitCode !== 0) throw classifyRabbitmqError(B.ns, 'import definitions', imp.exitCode ?? null, imp.stderr);
    timings.importSeconds = imp.seconds;

    const back = await onHost(B.ns, exportDefinitionsScript(B.host));
    expect(back.exitCode).toBe(0);
    const diff = diffDefinitions(source, parseDefinitions(back.stdout));
    expect(diff.map((d) => d.message)).toEqual([]);
    if (env.RMQ_PROBE_OUT) writeFileSync(env.RMQ_PROBE_OUT, JSON.stringify(timings, null, 2));
    console.log(`rabbitmq definitions probe: ${JSON.stringify(timings)}`);
  });

  test('a wrong Erlang cookie is named as such', async () => {
    const host = labHost('/nonexistent-osbackup-probe');
    const r = await onHost(A.ns, `mkdir -p /tmp/osbh-rmq-cookie/rabbitmq && cd /tmp/osbh-rmq-cookie/rabbitmq && (umask 077; printf WRONGCOOKIE > .erlang.cookie) && ${statusScript({ ...host, rabbitmq: { ...host.rabbitmq, env: { HOME: '/tmp/osbh-rmq-cookie/rabbitmq' } } })}; rc=$?; rm -rf /tmp/osbh-rmq-cookie; exit $rc`);
    expect(r.exitCode).toBe(69);
    const f = classifyRabbitmqError(A.ns, 'status', r.exitCode ?? null, r.stderr);
    expect(f.type).toBe('RabbitmqAuthFailed');
  });

  test('a wrong node name is named as such', async () => {
    const r = await onHost(A.ns, statusScript({ ...A.host, rabbitmq: { ...A.host.rabbitmq, nodeName: 'rabbit2@localhost' } }));
    const f = classifyRabbitmqError(A.ns, 'status', r.exitCode ?? null, r.stderr);
    expect(f.type).toBe('RabbitmqNodeUnknown');
    expect(f.message).toContain('epmd knows rabbit');
  });
});
