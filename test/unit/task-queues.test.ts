// Which queue a cloud's runs go to and which queues a site's worker polls.
import { ConfigError, parseConfig } from '../../config/load.js';
import { servedQueues, taskQueueOf } from '../../config/task-queues.js';

const cloud = (host: string, taskQueue?: string) => `
    ${taskQueue ? `taskQueue: ${taskQueue}` : ''}
    database: { host: ${host}, user: backup, password: { env: DB_PW } }
    hosts:
      ${host}:
        address: 10.0.0.11
        keyFile: /etc/osbackup/id_ed25519
        hostKeyFingerprint: "SHA256:ynezP39Gm+k3pB+u/madavGjUy7MtT9gUzZ91WNs6a4"
        mariadb: { datadir: /var/lib/mysql, stopCommand: [systemctl, stop, mariadb], startCommand: [systemctl, start, mariadb] }`;

const config = (clouds: Record<string, string | undefined>, worker = '') =>
  parseConfig(
    `
temporal: { taskQueue: central }
repository: { path: /srv/osbackup }
encryption: { passphrase: { file: /etc/osbackup/passphrase } }
${worker}
clouds:${Object.entries(clouds)
      .map(([name, q]) => `\n  ${name}:${cloud(`h-${name}`, q)}`)
      .join('')}
`,
    'sites.yml',
  );

test('a cloud with a queue of its own gets it; others and runs of no cloud get the default queue', () => {
  const c = config({ east: 'site-east', west: undefined });
  expect(taskQueueOf(c, 'east')).toBe('site-east');
  expect(taskQueueOf(c, 'west')).toBe('central');
  expect(taskQueueOf(c)).toBe('central');
});

test('a worker without a restriction polls every queue, the default first', () => {
  expect(servedQueues(config({ east: 'site-east', west: 'site-west' }))).toEqual({
    clouds: ['east', 'west'],
    queues: ['central', 'site-east', 'site-west'],
  });
});

test("a site's worker polls its clouds' queues, and the default queue only when no other cloud is on it", () => {
  const sites = config({ east: 'site-east', west: 'site-west' });
  // every cloud on a queue of its own: the default queue carries only runs of no cloud, which both take
  expect(servedQueues(sites, ['east'])).toEqual({ clouds: ['east'], queues: ['central', 'site-east'] });
  const mixed = config({ east: undefined, west: 'site-west' });
  // east's runs are on the default queue: west's worker must not take them
  expect(servedQueues(mixed, ['west'])).toEqual({ clouds: ['west'], queues: ['site-west'] });
  expect(servedQueues(mixed, ['east'])).toEqual({ clouds: ['east'], queues: ['central'] });
});

test('worker.clouds restricts the worker; --cloud overrides it; an unknown cloud is named', () => {
  const c = config({ east: 'site-east', west: 'site-west' }, 'worker: { clouds: [west] }');
  expect(servedQueues(c).clouds).toEqual(['west']);
  expect(servedQueues(c, ['east']).clouds).toEqual(['east']);
  expect(() => servedQueues(c, ['north'])).toThrow('no cloud "north" in the config (clouds: east, west)');
});

test('worker.clouds naming a cloud that does not exist is a config error with its path', () => {
  let message = '';
  try {
    config({ east: 'site-east' }, 'worker: { clouds: [east, north] }');
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    message = e.message;
  }
  expect(message).toMatch(/worker\.clouds\.1: names cloud "north", which is not under clouds \(east\)/);
});
