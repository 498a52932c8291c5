// osbackup as an operator installs it: `npm pack` on a clean copy of the tracked files (its
// prepack builds the code and the workflow bundle), `npm install -g` of the tarball into a
// prefix of its own (npm's cache is reused), then the installed command: --help, config check,
// and a worker on a task queue of its own that runs a lab backup — every activity of which the
// history shows on that worker. Then the same tarball as a container image
// (deploy/container/build.sh, on the Docker engine of the lab's Kolla host ctl3), whose worker
// runs a lab backup the same way.
import { createServer } from 'node:net';
import { mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { parse } from 'yaml';
import { deriveConfig, labConfigPath, labDir, ROOT, temporalClient } from '../helpers/lab.js';

const dir = mkdtempSync(join(tmpdir(), 'osb-install-'));
const prefix = join(dir, 'prefix');
const osbackup = join(prefix, 'bin/osbackup');
let tarball = '';
let entries: string[] = [];
// the container image's base (debootstrap, cached outside the clone) is made while npm packs
let base: ResultPromise | undefined;

beforeAll(async () => {
  base = execa(join(ROOT, 'deploy/container/build.sh'), ['base'], { reject: false, all: true });
  // the tracked files only: what a clean clone holds (node_modules linked, not copied)
  const src = join(dir, 'src');
  await execa('bash', [
    '-c',
    `mkdir -p ${src} && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C ${src}`,
  ]);
  symlinkSync(join(ROOT, 'node_modules'), join(src, 'node_modules'));
  const pack = await execa('npm', ['pack', '--json', '--pack-destination', dir], { cwd: src });
  // the prepack build prints before npm's JSON
  const info = JSON.parse(pack.stdout.slice(pack.stdout.search(/^\[/m))) as {
    filename: string;
    files: { path: string }[];
  }[];
  tarball = join(dir, info[0]!.filename);
  entries = info[0]!.files.map((f) => f.path);
  await execa('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], {
    env: { npm_config_update_notifier: 'false' },
  });
}, 600_000);

test('the tarball holds the built code, the workflow bundle and the example config; no test, lab or benchmark file', () => {
  expect(entries).toEqual(
    expect.arrayContaining([
      'bin/osbackup',
      'dist/client/cli.js',
      'dist/worker/run.js',
      'dist/workflow-bundle.js',
      'osbackup.example.yml',
      'deploy/osbackup-worker.service',
      'deploy/container/Containerfile',
      'deploy/container/build.sh',
      'package.json',
    ]),
  );
  const stray = entries.filter((p) => /^(test|bench|dist\/test|dist\/bench|\.dev|\.ci)\/|\.map$|(^|\/)lab\//.test(p));
  expect(stray).toEqual([]);
});

test('the installed command: --help lists the worker, config check reads the lab config, a usage error exits 64', async () => {
  const help = await execa(osbackup, ['--help']);
  expect(help.stdout).toMatch(/^\s+worker\b/m);
  expect(help.stdout).toMatch(/^\s+temporal\b/m);
  const check = await execa(osbackup, ['--config', labConfigPath(), 'config', 'check'], { reject: false });
  expect(check.stderr).toBe('');
  expect(check.stdout).toMatch(/^config OK: /);
  const bad = await execa(osbackup, ['backup', 'db', '--no-such-flag'], { reject: false });
  expect(bad.exitCode).toBe(64);
  expect(bad.stderr).toMatch(/unknown option '--no-such-flag'/);
});

/** A full lab backup on the config's task queue; returns the identities that ran its workflow and activity tasks. */
async function backupOn(configFile: string, name: string): Promise<{ activities: string[]; workflowTasks: string[] }> {
  const { client, close } = await temporalClient(configFile);
  try {
    const cfg = parse(readFileSync(configFile, 'utf8')) as { temporal: { taskQueue: string } };
    const handle = await client.workflow.start('backupDatabaseWorkflow', {
      taskQueue: cfg.temporal.taskQueue,
      workflowId: `${name}-backup-${process.pid}`,
      args: [{ cloud: 'lab', kind: 'full', tier: 'manual' }],
    });
    const r = (await handle.result()) as { backupId: string; sha256: string };
    expect(r.sha256).toMatch(/^[0-9a-f]{64}$/);
    const events = (await handle.fetchHistory()).events ?? [];
    const started = events.filter((e) => e.activityTaskStartedEventAttributes);
    expect(started.length).toBeGreaterThan(3);
    const tasks = events.filter((e) => e.workflowTaskStartedEventAttributes);
    return {
      activities: [...new Set(started.map((e) => e.activityTaskStartedEventAttributes!.identity!))],
      workflowTasks: [...new Set(tasks.map((e) => e.workflowTaskStartedEventAttributes!.identity!))],
    };
  } finally {
    await close();
  }
}

test('the installed worker runs a lab backup on its own task queue: every activity ran on it', async () => {
  const configFile = deriveConfig('installed');
  const worker = execa(osbackup, ['worker', '--config', configFile], { reject: false, all: true, buffer: false });
  let out = '';
  worker.all!.on('data', (b: Buffer) => (out += b.toString()));
  const t0 = Date.now();
  while (!out.includes('osbackup worker ready')) {
    if (worker.exitCode !== null || Date.now() - t0 > 60_000)
      throw new Error(`the installed worker did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  // the prebuilt bundle shipped in the package is used: no bundling at start
  expect(out).not.toMatch(/no fresh workflow bundle/);
  const identity = `${worker.pid}@${hostname()}`;
  try {
    expect(await backupOn(configFile, 'installed')).toEqual({ activities: [identity], workflowTasks: [identity] });
  } finally {
    worker.kill('SIGTERM');
    expect((await worker).exitCode).toBe(0);
  }
}, 300_000);

describe('the container image', () => {
  const tag = `osbackup:test-${process.pid}`;
  const name = `osb-worker-${process.pid}`;
  const lab = labDir();
  const ssh = [
    'ssh',
    '-q',
    '-i',
    join(lab, 'keys/worker_ed25519'),
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
  ];
  let ctl3 = '';
  const docker = (args: string) =>
    execa(ssh[0]!, [...ssh.slice(1), `root@${ctl3}`, `docker ${args}`], { reject: false, all: true });
  let forwarder: ResultPromise | undefined;

  beforeAll(async () => {
    const raw = parse(readFileSync(labConfigPath(), 'utf8')) as {
      clouds: Record<string, { hosts?: Record<string, { address: string }> }>;
    };
    ctl3 = Object.values(raw.clouds).find((c) => c.hosts?.ctl3)!.hosts!.ctl3!.address;
    const b = await base!;
    if (b.exitCode !== 0) throw new Error(`build.sh base failed:\n${b.all}`);
    const built = await execa(join(ROOT, 'deploy/container/build.sh'), ['--tarball', tarball, '--tag', tag], {
      env: { DOCKER: [...ssh, `root@${ctl3}`, 'docker'].join(' ') },
      reject: false,
      all: true,
    });
    if (built.exitCode !== 0) throw new Error(`build.sh failed:\n${built.all}`);
    expect(built.stdout.trim()).toBe(tag);
  }, 600_000);

  afterAll(async () => {
    forwarder?.kill();
    await docker(`rm -f ${name}`);
    await docker(`rmi ${tag}`);
  });

  test('osbackup --help runs in it, as the unprivileged user osbackup, with the tools the worker spawns', async () => {
    const help = await docker(`run --rm --network none ${tag} --help`);
    expect(help.stdout).toMatch(/^\s+worker\b/m);
    const inside = await docker(
      `run --rm --network none --entrypoint sh ${tag} -c 'id -un; for t in gpg gpgconf zstd tini; do command -v $t; done; echo $MALLOC_ARENA_MAX'`,
    );
    expect(inside.stdout.trim().split('\n')).toEqual([
      'osbackup',
      '/usr/bin/gpg',
      '/usr/bin/gpgconf',
      '/usr/bin/zstd',
      '/usr/bin/tini',
      '2',
    ]);
  });

  test('a worker in the container runs a lab backup: every task ran on it, and docker stop drains it', async () => {
    // Temporal listens on the machine's loopback; the container sits in ctl3's network
    // namespace, which reaches the machine at its lab address: a forwarder there
    const route = await execa('ip', ['-o', 'route', 'get', ctl3]);
    const machine = /\bsrc (\S+)/.exec(route.stdout)![1]!;
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, machine, () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const plain = (parse(readFileSync(labConfigPath(), 'utf8')) as { temporal: { address: string } }).temporal.address;
    forwarder = execa('socat', [`TCP-LISTEN:${port},bind=${machine},reuseaddr,fork`, `TCP:${plain}`], {
      reject: false,
    });
    const configFile = deriveConfig('container', (c) => {
      c.temporal.address = `${machine}:${port}`;
    });
    // the lab's files (keys, secrets, repository) at the same paths; root inside, as they are root's
    const run = await docker(
      `run -d --name ${name} --network host --hostname osb-container --user 0:0 ` +
        `-v ${lab}:${lab} -v ${dirname(configFile)}:${dirname(configFile)}:ro ${tag} worker --config ${configFile}`,
    );
    expect(run.stderr).toBe('');
    const t0 = Date.now();
    let logs = '';
    while (!logs.includes('osbackup worker ready')) {
      logs = (await docker(`logs ${name}`)).all ?? '';
      const state = (await docker(`inspect -f '{{.State.Running}}' ${name}`)).stdout.trim();
      if (state !== 'true' || Date.now() - t0 > 90_000) throw new Error(`the worker container did not start:\n${logs}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(logs).not.toMatch(/no fresh workflow bundle|MALLOC_ARENA_MAX/);
    const ran = await backupOn(configFile, 'container');
    expect(ran.activities).toHaveLength(1);
    expect(ran.activities[0]).toMatch(/^\d+@osb-container$/);
    expect(ran.workflowTasks).toEqual(ran.activities);
    // docker stop sends SIGTERM: the worker drains and exits 0
    await docker(`stop -t 60 ${name}`);
    expect((await docker(`inspect -f '{{.State.ExitCode}}' ${name}`)).stdout.trim()).toBe('0');
  }, 300_000);
});
