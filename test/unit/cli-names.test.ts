// One name per feature on the CLI, and the first names kept as aliases: scripts written
// against `osbackup binlog …` keep working after the command became `osbackup pitr …`.
import { execa } from 'execa';

const cli = (args: string[]) => execa('node', ['dist/client/cli.js', ...args], { reject: false });

test.each([['archive'], ['status'], ['stop'], ['compact']])(
  'pitr %s and its alias binlog %s are one command',
  async (sub) => {
    const [now, before] = await Promise.all([cli(['pitr', sub, '--help']), cli(['binlog', sub, '--help'])]);
    expect(now.exitCode).toBe(0);
    expect(now.stdout).toMatch(new RegExp(`^Usage: osbackup pitr(\\|binlog)? ${sub}`, 'm'));
    expect(before.exitCode).toBe(0);
    expect(before.stdout.replace(/^Usage:.*$/m, '')).toBe(now.stdout.replace(/^Usage:.*$/m, ''));
  },
);

test('the top-level help names the feature pitr, with binlog as its alias', async () => {
  const r = await cli(['--help']);
  expect(r.stdout).toMatch(/^\s+pitr\|binlog\s/m);
  expect(r.stdout).not.toMatch(/^\s+binlog\s/m);
});
