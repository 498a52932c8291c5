// A minimal valid config for unit tests of config sections, and the loader's problems as
// "path: message" pairs — what an operator reads.
import { ConfigError, parseConfig } from '../../config/load.js';

/** One cloud's YAML (indented under `clouds:`), with `extra` appended inside the cloud. */
export const cloudYaml = (name: string, extra = '') => `
  ${name}:
    database: { host: ctl1, user: backup, password: { env: DB_PW } }
    hosts:
      ctl1:
        address: 10.0.0.11
        keyFile: /etc/osbackup/id_ed25519
        hostKeyFingerprint: "SHA256:ynezP39Gm+k3pB+u/madavGjUy7MtT9gUzZ91WNs6a4"
        mariadb: { datadir: /var/lib/mysql, stopCommand: [systemctl, stop, mariadb], startCommand: [systemctl, start, mariadb] }
${extra}`;

/** The whole file around some clouds; `top` goes before `clouds:` (targets, temporal, …). */
export const configYaml = (clouds = cloudYaml('prod'), top = '') => `
repository: { path: /srv/osbackup }
encryption: { passphrase: { file: /etc/osbackup/passphrase } }
${top}clouds:${clouds}`;

/** The loader's problems for a file that must be refused, as { path: message }. */
export function configProblems(text: string): Record<string, string> {
  try {
    parseConfig(text, 'bad.yml');
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return Object.fromEntries(e.problems.map((p) => [p.path, p.message]));
  }
  throw new Error('expected a ConfigError');
}
