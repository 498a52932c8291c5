// The pure parts of logical dumps: splitting one mariadb-dump stream into per-schema files,
// choosing schemas, the grant check, the recorded position, the catalog row and retention.
import { catalogEntry } from '../../core/catalog/catalog.js';
import {
  chooseSchemas,
  dumpSchema,
  DumpSplitter,
  isDumpManifest,
  missingDumpGrants,
  parseDumpPosition,
  type DumpManifest,
} from '../../core/dump/dump.js';
import { sealedFiles } from '../../core/manifest/any-manifest.js';
import { planRetention } from '../../core/retention/plan.js';
import { retentionPolicySchema } from '../../core/retention/policy.js';

// The shape mariadb-dump 10.11 writes for `--databases a b` with a view in a (taken from a real run, shortened)
const HEADER = `/*M!999999\\- enable the sandbox mode */ 
-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)
--
/*!40103 SET TIME_ZONE='+00:00' */;
-- CHANGE MASTER TO MASTER_USE_GTID=slave_pos;
-- CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000003', MASTER_LOG_POS=1393;
`;
const A1 = `--
-- Current Database: \`a\`
--

/*!40000 DROP DATABASE IF EXISTS \`a\`*/;
USE \`a\`;
CREATE TABLE \`t\` (
  \`id\` int(11) NOT NULL
);
INSERT INTO \`t\` VALUES (1),(2);
DELIMITER ;;
CREATE DEFINER=\`root\`@\`localhost\` PROCEDURE \`p\`()
-- Current Database: \`b\`
/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;
;;
DELIMITER ;
`;
const B = `--
-- Current Database: \`b\`
--

USE \`b\`;
CREATE TABLE \`u\` (
  \`id\` int(11) NOT NULL
);
CREATE TABLE \`w\` (
  \`id\` int(11) NOT NULL
);
`;
const A2 = `--
-- Current Database: \`a\`
--

USE \`a\`;
/*!50001 VIEW \`v\` AS select 1 */;
-- Current Database: \`not_asked\`
-- SET GLOBAL gtid_slave_pos='0-1-7';
`;
const FOOTER = `/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;

/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;

-- Dump completed on 2026-11-30  6:16:33
`;

function split(text: string, schemas = ['a', 'b']) {
  const out = new Map<string, string>();
  const s = new DumpSplitter(schemas, (schema, t) => out.set(schema, (out.get(schema) ?? '') + t));
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (const l of lines) s.line(l);
  const footer = s.finish();
  const files = new Map([...out].map(([k, v]) => [k, s.headerText() + v + footer]));
  return { files, s, footer };
}

test('one dump stream splits into per-schema files: shared header and footer, each schema’s sections in order', () => {
  const { files, s, footer } = split(HEADER + A1 + B + A2 + FOOTER);
  expect(footer).toBe(FOOTER);
  expect(files.get('a')).toBe(HEADER + A1 + A2 + FOOTER);
  expect(files.get('b')).toBe(HEADER + B + FOOTER);
  // the whole stream's bytes are all accounted for (header and footer once per file)
  expect(files.get('a')!.length + files.get('b')!.length).toBe(
    (HEADER + A1 + B + A2 + FOOTER).length + HEADER.length + FOOTER.length,
  );
  expect(Object.fromEntries(s.tables)).toEqual({ a: 1, b: 2 });
  expect(parseDumpPosition(s.headerText() + (s.gtidLine ?? ''))).toEqual({
    binlog: { file: 'mysql-bin.000003', position: 1393 },
    gtid: '0-1-7',
  });
});

test('markers inside routine bodies and of schemas not asked for stay in the body', () => {
  const { files } = split(HEADER + A1 + B + A2 + FOOTER);
  // the procedure body's look-alike marker and footer line went to a, not to b or the footer
  expect(files.get('a')).toContain(
    'PROCEDURE `p`()\n-- Current Database: `b`\n/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;\n;;',
  );
  expect(files.get('a')).toContain('-- Current Database: `not_asked`');
  expect(files.get('b')).not.toContain('PROCEDURE');
});

test('a stream cut short, or without any schema, is not a dump', () => {
  expect(() => split(HEADER + A1 + B)).toThrow(/cut short/);
  expect(() => split(HEADER + A1 + B + FOOTER.split('\n').slice(0, 3).join('\n'))).toThrow(/cut short/);
  expect(() => split(HEADER + FOOTER)).toThrow(/no schema/);
});

test('a position is absent when binary logging was off', () => {
  expect(
    parseDumpPosition(
      HEADER.split('\n')
        .filter((l) => !l.includes('MASTER_LOG_FILE'))
        .join('\n'),
    ),
  ).toEqual({ binlog: null, gtid: null });
});

test('schemas: asked, configured, or every non-system one; unknown and odd names refused', () => {
  const present = ['cinder', 'information_schema', 'keystone', 'mysql', 'nova', 'performance_schema', 'sys'];
  expect(chooseSchemas(present, undefined, undefined)).toEqual({ schemas: ['cinder', 'keystone', 'nova'] });
  expect(chooseSchemas(present, [], ['nova'])).toEqual({ schemas: ['nova'] });
  expect(chooseSchemas(present, ['keystone', 'nova', 'nova'], ['cinder'])).toEqual({ schemas: ['keystone', 'nova'] });
  expect(chooseSchemas(present, ['glance'], undefined)).toEqual({
    problem: expect.stringContaining('not on the server: glance'),
  });
  expect(chooseSchemas(present, ['a b'], undefined)).toEqual({ problem: expect.stringContaining('a b') });
  expect(chooseSchemas(['mysql', 'sys'], undefined, undefined)).toEqual({
    problem: expect.stringContaining('no schema'),
  });
});

test('grants: what a complete dump needs, from SHOW GRANTS', () => {
  expect(
    missingDumpGrants("GRANT SELECT, RELOAD, LOCK TABLES ON *.* TO `osbackup`@`localhost` IDENTIFIED BY PASSWORD '*X'"),
  ).toEqual(['SHOW VIEW', 'TRIGGER', 'EVENT']);
  expect(missingDumpGrants('GRANT SELECT, RELOAD, SHOW VIEW, EVENT, TRIGGER ON *.* TO `osbackup`@`localhost`')).toEqual(
    [],
  );
  expect(missingDumpGrants('GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION')).toEqual([]);
  // a grant on one schema is not enough: the dump covers every chosen schema
  expect(
    missingDumpGrants('GRANT USAGE ON *.* TO `u`@`%`\nGRANT SELECT, SHOW VIEW, TRIGGER, EVENT ON `nova`.* TO `u`@`%`'),
  ).toEqual(['SELECT', 'SHOW VIEW', 'TRIGGER', 'EVENT']);
});

function manifest(id: string, snapshotAt: string): DumpManifest {
  return {
    formatVersion: 1,
    id,
    cloud: 'lab',
    component: 'dump',
    kind: 'logical',
    parentId: null,
    startedAt: snapshotAt,
    completedAt: snapshotAt,
    workflowId: 'w',
    source: { host: 'ctl1', address: '10.0.0.1', containerRuntime: 'none' },
    dump: {
      snapshotAt,
      snapshotNotBefore: snapshotAt,
      gtid: '0-1-7',
      binlog: { file: 'mysql-bin.000003', position: 1393 },
      serverVersion: '10.11.19-MariaDB',
      dumpTool: 'mariadb-dump Ver 10.19',
      options: [],
      schemas: [
        {
          name: 'keystone',
          file: 'keystone.sql.zst.gpg',
          bytes: 10,
          sha256: 'k'.repeat(64),
          plainBytes: 30,
          plainSha256: 'K'.repeat(64),
          tables: 2,
        },
        {
          name: 'nova',
          file: 'nova.sql.zst.gpg',
          bytes: 20,
          sha256: 'n'.repeat(64),
          plainBytes: 60,
          plainSha256: 'N'.repeat(64),
          tables: 1,
        },
      ],
    },
    partsDigest: 'd'.repeat(64),
    compression: { format: 'zstd', level: 6, where: 'worker' },
    encryption: { format: 'openpgp', cipher: 'AES256', passphrase: true, recipientFingerprints: [] },
    tools: { zstd: 'v1', gpg: '2', osbackup: '0' },
    restoreRecipe: 'RESTORE.md',
  };
}

test('a dump manifest: the contract helpers, its sealed files and its catalog row', () => {
  const m = manifest('dump-20261130T061500Z', '2026-11-30T06:15:03.000Z');
  expect(isDumpManifest(m)).toBe(true);
  expect(dumpSchema(m, 'nova')?.file).toBe('nova.sql.zst.gpg');
  expect(dumpSchema(m, 'glance')).toBeUndefined();
  expect(sealedFiles(m).map((f) => f.rel)).toEqual([
    'clouds/lab/dump/dump-20261130T061500Z/keystone.sql.zst.gpg',
    'clouds/lab/dump/dump-20261130T061500Z/nova.sql.zst.gpg',
  ]);
  const row = catalogEntry(m, []);
  expect(row).toMatchObject({
    component: 'dump',
    kind: 'logical (keystone,nova)',
    bytes: 30,
    streamBytes: 90,
    sha256: m.partsDigest,
    binlog: 'mysql-bin.000003:1393',
    parentId: null,
  });
});

test('retention: dumps are their own series under the same policy; they never push out a physical restore point', () => {
  const policy = retentionPolicySchema.parse({ keepLast: 1, daily: 2, weekly: 0, monthly: 0, timeZone: 'UTC' });
  const day = (d: number, h = 1) => `2026-11-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:00:00.000Z`;
  const plan = planRetention({
    artifacts: [
      { id: 'db-full-1', kind: 'full', parentId: null, takenAt: day(20) },
      { id: 'dump-1', kind: 'dump', takenAt: day(21) },
      { id: 'dump-2', kind: 'dump', takenAt: day(22, 1) },
      { id: 'dump-3', kind: 'dump', takenAt: day(22, 5) },
      { id: 'dump-4', kind: 'dump', takenAt: day(23) },
    ],
    policy,
    now: new Date(day(24)),
  });
  const kept = plan.keep.map((k) => k.id).sort();
  // daily 2 among dumps: 23rd and 22nd (its newest); the physical backup stays the newest restore point
  expect(kept).toEqual(['db-full-1', 'dump-3', 'dump-4']);
  expect(plan.remove.find((r) => r.id === 'dump-1')?.reason).toMatch(/^dump not selected by the policy/);
  expect(plan.remove.find((r) => r.id === 'dump-2')?.reason).toMatch(/^dump not selected/);
  expect(plan.keep.find((k) => k.id === 'dump-4')?.reasons).toContain('newest dump: always kept');
  expect(plan.retained).toEqual(expect.arrayContaining(['dump-3', 'dump-4']));
});
