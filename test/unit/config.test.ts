import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { ConfigError, parseConfig } from '../../config/load.js';

const good = `
repository: { path: /srv/osbackup }
encryption: { passphrase: { file: /etc/osbackup/passphrase } }
clouds:
  prod:
    database: { host: ctl1, user: backup, password: { env: DB_PW } }
    hosts:
      ctl1:
        address: 10.0.0.11
        keyFile: /etc/osbackup/id_ed25519
        hostKeyFingerprint: "SHA256:ynezP39Gm+k3pB+u/madavGjUy7MtT9gUzZ91WNs6a4"
        containerRuntime: docker
        mariadb: { datadir: /var/lib/docker/volumes/mariadb/_data, stopCommand: [docker, stop, mariadb], startCommand: [docker, start, mariadb] }
`;

// Five independent mistakes: every one must be reported, each with its path.
const bad = `
repository: { path: relative/path }
encryption: {}
clouds:
  prod:
    database: { host: ctl9, user: backup, password: { file: /x, env: Y } }
    hosts:
      ctl1:
        address: 10.0.0.11
        port: 70000
        keyFile: /k
        hostKeyFingerprint: "MD5:aa:bb"
        containerRuntime: lxc
`;

function problems(text: string) {
  try {
    parseConfig(text, 'bad.yml');
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  test('a good file parses, with defaults filled in', () => {
    const c = parseConfig(good);
    expect(c.temporal.namespace).toBe('osbackup');
    expect(c.clouds.prod!.hosts.ctl1!.port).toBe(22);
    expect(c.clouds.prod!.hosts.ctl1!.containers.mariadb).toBe('mariadb');
    expect(c.clouds.prod!.database.password).toEqual({ env: 'DB_PW' });
  });

  test('a bad file reports every bad path with its reason', () => {
    const paths = problems(bad).map((p) => p.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'repository.path',
        'encryption',
        'clouds.prod.database.password',
        'clouds.prod.hosts.ctl1.port',
        'clouds.prod.hosts.ctl1.hostKeyFingerprint',
        'clouds.prod.hosts.ctl1.containerRuntime',
        'clouds.prod.database.host',
      ]),
    );
    const byPath = Object.fromEntries(problems(bad).map((p) => [p.path, p.message]));
    expect(byPath['repository.path']).toMatch(/absolute/);
    expect(byPath['clouds.prod.database.host']).toMatch(/ctl9.*not under hosts/);
    expect(byPath['clouds.prod.database.password']).toMatch(/exactly one/);
  });

  test('unknown keys are errors, not silently ignored (typos lose backups)', () => {
    const paths = problems(good.replace('repository: {', 'repositroy: { path: /x }\nrepository: {')).map((p) => p.path);
    expect(paths).toContain('(top level)');
  });

  test('YAML syntax errors name the line', () => {
    const p = problems('clouds: [unclosed\n');
    expect(p[0]!.path).toMatch(/^line \d+/);
  });

  test('the CLI prints every bad path and exits non-zero', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'osb-cfg-'));
    const file = join(dir, 'bad.yml');
    writeFileSync(file, bad);
    const r = await execa('node', ['dist/client/cli.js', '--config', file, 'config', 'check'], { reject: false });
    expect(r.exitCode).toBe(2);
    for (const p of [
      'repository.path',
      'encryption',
      'clouds.prod.hosts.ctl1.port',
      'clouds.prod.hosts.ctl1.hostKeyFingerprint',
      'clouds.prod.database.host',
    ]) {
      expect(r.stderr).toContain(`- ${p}: `);
    }
    const ok = join(dir, 'good.yml');
    writeFileSync(ok, good);
    const r2 = await execa('node', ['dist/client/cli.js', '--config', ok, '--json', 'config', 'check'], {
      reject: false,
    });
    // it parses, but what it names does not exist on this machine: each is listed (the lab config passes whole)
    expect(r2.exitCode).toBe(2);
    const e = JSON.parse(r2.stdout) as { error: string; exitCode: number };
    expect(e.exitCode).toBe(2);
    expect(e.error).toMatch(/the config parses but \d+ things it names are not usable here/);
    expect(e.error).toMatch(/- encryption\.passphrase: secret file \/etc\/osbackup\/passphrase cannot be read/);
    expect(e.error).toMatch(/- clouds\.prod\.database\.password: environment variable DB_PW is not set/);
    expect(e.error).toMatch(/- temporal\.payloadKey: not set/);
  });

  test('a missing file is reported as such', async () => {
    const r = await execa('node', ['dist/client/cli.js', '--config', '/nonexistent/osbackup.yml', 'config', 'check'], {
      reject: false,
    });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(
      /\/nonexistent\/osbackup.yml.*\n.*cannot be read \(\/nonexistent\/osbackup.yml\): no such file/,
    );
  });
});
