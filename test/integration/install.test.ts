// osbackup as an operator installs it: `npm pack` on a clean copy of the tracked files (its
// prepack builds the code and the workflow bundle), `npm install -g` of the tarball into a
// prefix of its own (npm's cache is reused), then the installed command: --help, config check,
// and a worker on a task queue of its own that runs a lab backup — every activity of which the
// history shows on that worker.
import { mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import { deriveConfig, labConfigPath, ROOT, temporalClient } from '../helpers/lab.js';

const dir = mkdtempSync(join(tmpdir(), 'osb-install-'));
const prefix = join(dir, 'prefix');
const osbackup = join(prefix, 'bin/osbackup');
let tarball = '';
let entries: string[] = [];

beforeAll(async () => {
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
  const { client, close } = await temporalClient(configFile);
  try {
    const cfg = parse(readFileSync(configFile, 'utf8')) as { temporal: { taskQueue: string } };
    const handle = await client.workflow.start('backupDatabaseWorkflow', {
      taskQueue: cfg.temporal.taskQueue,
      workflowId: `installed-backup-${process.pid}`,
      args: [{ cloud: 'lab', kind: 'full', tier: 'manual' }],
    });
    const r = (await handle.result()) as { backupId: string; sha256: string };
    expect(r.sha256).toMatch(/^[0-9a-f]{64}$/);
    const events = (await handle.fetchHistory()).events ?? [];
    const started = events.filter((e) => e.activityTaskStartedEventAttributes);
    expect(started.length).toBeGreaterThan(3);
    expect([...new Set(started.map((e) => e.activityTaskStartedEventAttributes!.identity))]).toEqual([identity]);
    const tasks = events.filter((e) => e.workflowTaskStartedEventAttributes);
    expect([...new Set(tasks.map((e) => e.workflowTaskStartedEventAttributes!.identity))]).toEqual([identity]);
  } finally {
    await close();
    worker.kill('SIGTERM');
    expect((await worker).exitCode).toBe(0);
  }
}, 300_000);
