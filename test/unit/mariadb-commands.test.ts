import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import {
  credentialOptionFile,
  factsSql,
  parseBinlogFromInfo,
  parseCheckpoints,
  parseFacts,
  quoteIdent,
} from '../../activities/mariadb/commands.js';
import { shJoin, shQuote, inServiceContext } from '../../activities/ssh/quote.js';

const nasty = [
  `it's`,
  'a"b',
  'back\\slash',
  '$(rm -rf /)',
  '`id`',
  'semi;colon',
  'new\nline',
  'spaces  and\ttabs',
  '',
  '*',
  '--flag=x',
];

describe('shell quoting', () => {
  test.each(nasty)('%j reaches the command unchanged through a real sh', async (arg) => {
    const r = await execa('sh', ['-c', `printf '%s' ${shQuote(arg)}`]);
    expect(r.stdout).toBe(arg);
  });

  test('argument arrays survive a second level of sh -c (docker exec … sh -c)', async () => {
    const inner = `printf '%s|' ${shJoin(nasty)}`;
    const r = await execa('sh', ['-c', inServiceContext({ containerRuntime: 'none' }, 'mariadb', inner)]);
    expect(r.stdout).toBe(nasty.map((a) => a + '|').join(''));
    expect(inServiceContext({ containerRuntime: 'docker' }, 'mariadb', 'true')).toBe(
      'docker exec -i mariadb sh -c true',
    );
  });
});

describe('credential option file', () => {
  test.each(['simple', 'with"quote', 'back\\slash\\', "it's #not a comment", 'spaces in it'])(
    'MariaDB reads password %j back exactly',
    async (password) => {
      const dir = mkdtempSync(join(tmpdir(), 'osb-opt-'));
      const host = join(dir, 'host.cnf');
      writeFileSync(host, '[client]\nuser=root\nsocket=/run/mysqld/x.sock\n');
      const f = join(dir, 'c.cnf');
      writeFileSync(f, credentialOptionFile({ user: 'osbackup', password }, host));
      const r = await execa('my_print_defaults', ['--defaults-file=' + f, 'client', 'mariabackup']);
      const lines = r.stdout.split('\n');
      // the host's socket is kept; our user (read later) wins over the host file's root
      expect(lines).toContain('--socket=/run/mysqld/x.sock');
      expect(lines.filter((l) => l.startsWith('--user=')).at(-1)).toBe('--user=osbackup');
      expect(lines.filter((l) => l.startsWith('--password=')).at(-1)).toBe(`--password=${password}`);
    },
  );
});

describe('mariabackup metadata', () => {
  test('xtrabackup_checkpoints', () => {
    expect(
      parseCheckpoints(
        'backup_type = full-backuped\nfrom_lsn = 0\nto_lsn = 44894\nlast_lsn = 34098185\nrecover_binlog_info = 0\n',
      ),
    ).toEqual({ backupType: 'full-backuped', fromLsn: '0', toLsn: '44894', lastLsn: '34098185' });
    expect(() => parseCheckpoints('garbage')).toThrow(/backup_type/);
  });
  test('binlog position from xtrabackup_info', () => {
    expect(
      parseBinlogFromInfo(
        "binlog_pos = filename 'mysql-bin.000002', position '385', GTID of the last change '0-1-1'\n",
      ),
    ).toEqual({ file: 'mysql-bin.000002', position: 385, gtid: '0-1-1' });
    expect(parseBinlogFromInfo("binlog_pos = filename 'b.000001', position '4'\n")).toEqual({
      file: 'b.000001',
      position: 4,
      gtid: '',
    });
    expect(parseBinlogFromInfo('tool_name = mariabackup\n')).toBeNull();
  });
  test('facts SQL quotes identifiers and parses the batch output', () => {
    expect(quoteIdent('nova.instances')).toBe('`nova`.`instances`');
    expect(quoteIdent('we`ird.t')).toBe('`we``ird`.`t`');
    const sql = factsSql(['keystone.project', 'nova.instances']);
    expect(sql).toContain('CHECKSUM TABLE `nova`.`instances`');
    const out =
      'version\t10.11.19-MariaDB\ncount\tkeystone.project\t510\nkeystone.project\t3207305302\ncount\tnova.instances\t20000\nnova.instances\tNULL\n';
    expect(parseFacts(out, ['keystone.project', 'nova.instances', 'glance.images'])).toEqual({
      serverVersion: '10.11.19-MariaDB',
      tables: [
        { table: 'keystone.project', rows: 510, checksum: '3207305302' },
        { table: 'nova.instances', rows: 20000, checksum: null },
      ],
    });
  });
});

describe('missing grants', () => {
  test('named from SHOW GRANTS', async () => {
    const { missingGrants } = await import('../../activities/mariadb/commands.js');
    expect(
      missingGrants(
        "GRANT SELECT, PROCESS ON *.* TO `weak`@`localhost` IDENTIFIED BY PASSWORD '*X'\nGRANT ALL PRIVILEGES ON `nova`.* TO `weak`@`localhost`",
      ),
    ).toEqual(['RELOAD', 'LOCK TABLES', 'BINLOG MONITOR']);
    expect(missingGrants('GRANT RELOAD, PROCESS, LOCK TABLES, REPLICATION CLIENT, SELECT ON *.* TO `old`@`%`')).toEqual(
      [],
    );
    expect(missingGrants('GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION')).toEqual([]);
  });
});

describe('compression on the database host', () => {
  test('zstd -vv reports exact byte counts, and parseZstdSummary reads them from a real zstd', async () => {
    const { parseZstdSummary } = await import('../../activities/mariadb/commands.js');
    const input = Buffer.alloc(3_000_000, 'osbackup ');
    const r = await execa('zstd', ['-3', '-T0', '-vv', '-c'], { input, encoding: 'buffer' });
    const summary = parseZstdSummary(Buffer.from(r.stderr).toString());
    expect(summary).toEqual({ inBytes: input.length, outBytes: r.stdout.length });
    expect(parseZstdSummary('mariabackup: completed OK!')).toBeNull();
  });
  test('the backup script pipes into zstd on the host, outside the container', async () => {
    const { backupStreamScript } = await import('../../activities/mariadb/commands.js');
    const host = {
      containerRuntime: 'docker' as const,
      containers: { mariadb: 'mariadb' },
      mariadb: { datadir: '/var/lib/mysql', stopCommand: ['x'], startCommand: ['y'], restoreDir: '/tmp/r' },
    };
    const script = backupStreamScript(host as never, 10, '/tmp/osbackup-x', [], { level: 5 });
    expect(script).toMatch(/^docker exec -i mariadb sh -c '.*' \| zstd -5 -T0 -vv -c$/s);
    expect(backupStreamScript(host as never, 10, '/tmp/osbackup-x')).not.toContain('zstd');
  });
});
