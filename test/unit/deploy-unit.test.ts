// deploy/osbackup-worker.service through systemd's own checker: `systemd-analyze verify` loads it
// without a warning, and `systemd-analyze security` scores its sandbox at most 4.5 (measured
// on systemd 252: 1.2 OK). Both run on the unit file (--offline=true for security), so no
// systemd needs to run as PID 1. Under CI a missing systemd-analyze is a failure; on a developer
// machine without it those tests are skipped with the reason. The unit's agreement with the
// config defaults and with the sysusers/tmpfiles snippets is checked either way.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { configSchema, workerSchema } from '../../config/schema.js';

const UNIT = resolve('deploy/osbackup-worker.service');
const NAME = 'osbackup-worker.service';
const MAX_EXPOSURE = 4.5;

const analyze = await execa('systemd-analyze', ['--version'], { reject: false });
const have = analyze.exitCode === 0;
const MISSING = 'systemd-analyze is not installed (Debian package systemd)';
// under CI the tests run, and fail on the missing tool
const withAnalyze = have || process.env.CI === 'true' ? test : test.skip;
if (!have && process.env.CI !== 'true') console.warn(`${MISSING}: the systemd-analyze checks are skipped`);
const needAnalyze = () => {
  if (!have) throw new Error(`${MISSING}: CI must run the unit file checks`);
};

// no colours or pager whatever the environment says: the output is parsed
const env = { SYSTEMD_COLORS: '0', SYSTEMD_PAGER: 'cat', NO_COLOR: '1' };

/**
 * `systemd-analyze verify` exits 0 on mere warnings (unknown keys, bad values it ignores), so
 * every stderr line about the unit counts. Other lines are about the host's own units (the
 * dependency targets pull them in) and are not this file's business. ExecStart is
 * `/usr/bin/env osbackup ...`: verify checks only that /usr/bin/env exists, so the real file is
 * verified as is, on a machine without osbackup installed too. --man=no: no Documentation= to look up.
 */
async function verify(path: string) {
  const r = await execa('systemd-analyze', ['verify', '--man=no', path], { reject: false, env });
  const aboutUnit = String(r.stderr)
    .split('\n')
    .filter((l) => l.includes(NAME));
  return { exitCode: r.exitCode, aboutUnit };
}

const unitText = readFileSync(UNIT, 'utf8');
/** Every value of a key in the unit (the file sets each key in one section only). */
const values = (key: string) => [...unitText.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!.trim());
const value = (key: string) => {
  const v = values(key);
  expect(v).toHaveLength(1);
  return v[0]!;
};

withAnalyze('systemd-analyze verify: the unit loads without an error or warning', async () => {
  needAnalyze();
  const r = await verify(UNIT);
  expect(r.aboutUnit).toEqual([]);
  expect(r.exitCode).toBe(0);
});

withAnalyze('systemd-analyze verify: a broken copy is caught (the check above can fail)', async () => {
  needAnalyze();
  const dir = mkdtempSync(join(tmpdir(), 'osbackup-unit-test-'));
  try {
    const broken = join(dir, NAME);
    writeFileSync(broken, unitText.replace(/^ProtectSystem=/m, 'ProtectSytem='));
    const r = await verify(broken);
    expect(r.aboutUnit.join('\n')).toMatch(/Unknown key 'ProtectSytem'/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

withAnalyze(`systemd-analyze security: overall exposure at most ${MAX_EXPOSURE}`, async () => {
  needAnalyze();
  // --threshold is the exposure ×10: the command itself fails above 4.5
  const r = await execa(
    'systemd-analyze',
    ['security', '--offline=true', `--threshold=${MAX_EXPOSURE * 10}`, '--no-pager', UNIT],
    { reject: false, env },
  );
  const m = /Overall exposure level for osbackup-worker\.service: (\d+(?:\.\d+)?)/.exec(String(r.stdout));
  expect(m).not.toBeNull();
  expect(Number(m![1])).toBeLessThanOrEqual(MAX_EXPOSURE);
  expect(r.exitCode).toBe(0);
});

describe('the unit agrees with the config and the deploy snippets', () => {
  test('the stop timeout outlasts the default drain and the SDK force time after it', () => {
    // worker/run.ts: shutdownForceTime = shutdownGraceSeconds + 60
    const grace = workerSchema.parse({}).shutdownGraceSeconds;
    expect(value('KillSignal')).toBe('SIGTERM');
    expect(value('KillMode')).toBe('mixed');
    expect(Number(value('TimeoutStopSec'))).toBeGreaterThan(grace + 60);
  });

  test("the state dir is the config's default stateDir, and the command reads /etc/osbackup", () => {
    const stateDir = configSchema.shape.stateDir.parse(undefined);
    expect(`/var/lib/${value('StateDirectory')}`).toBe(stateDir);
    expect(value('ConfigurationDirectory')).toBe('osbackup');
    expect(value('ExecStart')).toBe('/usr/bin/env osbackup worker --config /etc/osbackup/osbackup.yml');
  });

  test('the user comes from sysusers (home = state dir), the repository from tmpfiles', () => {
    const sysusers = readFileSync('deploy/osbackup.sysusers.conf', 'utf8');
    expect(sysusers).toMatch(/^u\s+osbackup\s+-\s+"[^"]+"\s+\/var\/lib\/osbackup\s/m);
    expect(value('User')).toBe('osbackup');
    expect(value('Group')).toBe('osbackup');
    expect(values('DynamicUser')).toEqual([]);
    const tmpfiles = readFileSync('deploy/osbackup.tmpfiles.conf', 'utf8');
    const repo = /^d\s+(\S+)\s+0700\s+osbackup\s+osbackup\s/m.exec(tmpfiles)?.[1];
    expect(repo).toBe('/srv/osbackup');
    expect(value('ReadWritePaths').split(/\s+/)).toContain(repo);
  });

  test('the hardening the worker can live with is on; W^X memory stays off for V8', () => {
    expect(value('ProtectSystem')).toBe('strict');
    expect(value('NoNewPrivileges')).toBe('yes');
    expect(value('CapabilityBoundingSet')).toBe('');
    expect(value('AmbientCapabilities')).toBe('');
    expect(value('RestrictAddressFamilies')).toBe('AF_UNIX AF_INET AF_INET6');
    expect(value('MemoryDenyWriteExecute')).toBe('no');
  });
});
