// Detached jobs (a rebuild's deploy commands, a point-in-time replay), run for real with bash on
// this machine: a retry (a second runJob for the same key, as after a lost worker) re-attaches
// instead of launching again; a job that must not run twice is not relaunched after dying.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Env } from '../../activities/deps.js';
import { jobDir, runJob } from '../../activities/ssh/jobs.js';

const envWith = (stateDir: string) => ({ config: { stateDir } }) as unknown as Env;

describe('deploy command jobs', () => {
  test('a second attempt while the command runs re-attaches; one after it ended reads its outcome; neither launches it again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'osb-drjob-'));
    const env = envWith(dir);
    const marker = join(dir, 'ran');
    const argv = ['bash', '-c', `echo x >> ${marker}; sleep 1.5; echo done; echo oops >&2; exit 3`];
    const first = runJob(env, 'c', 'worker', 'r1/e1/deploy-services', argv, 60);
    await new Promise((r) => setTimeout(r, 400));
    const second = await runJob(env, 'c', 'worker', 'r1/e1/deploy-services', argv, 60);
    const a = await first;
    expect(a).toMatchObject({ exitCode: 3, launches: 1, reattached: false, stdoutTail: 'done', stderrTail: 'oops' });
    expect(second).toMatchObject({ exitCode: 3, launches: 1, reattached: true });
    const third = await runJob(env, 'c', 'worker', 'r1/e1/deploy-services', argv, 60);
    expect(third).toMatchObject({ exitCode: 3, launches: 1, reattached: true });
    expect(readFileSync(marker, 'utf8')).toBe('x\n');
    expect(
      readFileSync(join(jobDir(env, 'worker', 'c', 'r1/e1/deploy-services'), 'launches'), 'utf8')
        .trim()
        .split('\n'),
    ).toHaveLength(1);
  });

  test('another execution of the run (a rerun after a failure) launches afresh', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'osb-drjob-'));
    const env = envWith(dir);
    const argv = ['bash', '-c', 'exit 0'];
    expect((await runJob(env, 'c', 'worker', 'r1/e1/deploy-mariadb', argv, 60)).reattached).toBe(false);
    expect((await runJob(env, 'c', 'worker', 'r1/e2/deploy-mariadb', argv, 60)).reattached).toBe(false);
  });

  test('arguments with spaces and quotes reach the command unchanged', async () => {
    const env = envWith(mkdtempSync(join(tmpdir(), 'osb-drjob-')));
    const r = await runJob(env, 'c', 'worker', 'r/e/x', ['printf', '%s|', "it's", 'a b', '$HOME'], 60);
    expect(r.stdoutTail).toBe("it's|a b|$HOME|");
  });

  test('a job that must not run twice and died part way is not launched again: the retry says why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'osb-drjob-'));
    const env = envWith(dir);
    const marker = join(dir, 'ran');
    const jobFolder = join(dir, 'replay-job');
    const argv = ['bash', '-c', `echo x >> ${marker}; sleep 30`];
    const opts = { dir: jobFolder, what: 'the replay', interrupted: 'restore again' };
    const first = runJob(env, 'c', 'worker', '', argv, 60, opts).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 500));
    // the job dies without an exit code (its host rebooted): kill its whole process group
    process.kill(-Number(readFileSync(join(jobFolder, 'pid'), 'utf8')), 'SIGKILL');
    expect(String(await first)).toMatch(/interrupted part way and is not run a second time/);
    const retry = await runJob(env, 'c', 'worker', '', argv, 60, opts).catch((e: Error) => e);
    expect(String(retry)).toMatch(/the replay \(job .*\) ended without an exit code/);
    expect(readFileSync(marker, 'utf8')).toBe('x\n');
  });
});
