// What activities are built from. Activities never read process.env or files of their own
// accord: the worker hands them the validated config and the environment to resolve secrets.
import { join } from 'node:path';
import type { CloudConfig, Config, HostConfig } from '../config/schema.js';
import { fatal, FailureType } from './errors.js';
import type { SshPool, SshTarget } from './ssh/pool.js';
import { LocalRepository } from './storage/local-repository.js';
import { FsTarget, openTarget, s3Target, type TargetStore } from './storage/target.js';
import type { Repository } from './storage/repository.js';
import { S3Repository } from './storage/s3-repository.js';
import { S3_REPOSITORY_LIMITATION } from '../config/repository-schema.js';
import { inActivity } from './heartbeat.js';
import { Context } from '@temporalio/activity';
import { resolveSecret } from './secrets.js';
import { credentialOptionFile } from './mariadb/commands.js';
import type { GpgKeys } from './crypto/gpg.js';

export interface Deps {
  config: Config;
  env: NodeJS.ProcessEnv;
  ssh: SshPool;
  /** osbackup's version (recorded in manifests of scheduled runs). */
  version?: string;
}

export class Env {
  /** The repository as database backups, restores and their records use it (a folder or a bucket). */
  readonly repository: Repository;
  /** The repository seen as a target (copies, verify, retention, catalog). */
  readonly primary: TargetStore;
  private readonly local: LocalRepository | undefined;
  private readonly opened = new Map<string, Promise<TargetStore>>();
  constructor(readonly deps: Deps) {
    const r = deps.config.repository;
    if (r.type === 's3') {
      const t = s3Target(r.name, r, deps.env);
      this.primary = t;
      this.repository = new S3Repository(t, r);
    } else {
      this.local = new LocalRepository(r.path, r.mountPoint);
      this.repository = this.local;
      this.primary = new FsTarget(r.name, r.mountPoint ? 'nfs' : 'local', r.path, r.retention, {
        mountPoint: r.mountPoint,
        capacityGiB: r.capacityGiB,
      });
    }
  }

  /**
   * The repository folder, for the artifact kinds written only to a folder so far (control plane,
   * dumps, binary logs, imports, image exports, drill and DR records). With an S3 repository it
   * names the limitation instead of writing anywhere.
   */
  get repo(): LocalRepository {
    if (this.local) return this.local;
    const step = inActivity() ? ` (${Context.current().info.activityType})` : '';
    throw fatal(
      FailureType.ConfigInvalid,
      `this step${step} writes or reads a folder repository, but ${S3_REPOSITORY_LIMITATION}`,
      'keep the repository on a folder (repository.path) and add the bucket as a copy target under `targets`; see docs/s3-repository.md',
    );
  }

  /** A target by name, opened once per worker (S3 clients keep their connections). */
  target(name: string): Promise<TargetStore> {
    if (name === this.primary.name) return Promise.resolve(this.primary);
    let t = this.opened.get(name);
    if (!t) {
      t = openTarget(this.config, name, this.deps.env);
      t.catch(() => this.opened.delete(name));
      this.opened.set(name, t);
    }
    return t;
  }

  get config(): Config {
    return this.deps.config;
  }

  cloud(name: string): CloudConfig {
    const c = this.config.clouds[name];
    if (!c)
      throw fatal(
        FailureType.ConfigInvalid,
        `cloud "${name}" is not in the worker's config (known: ${Object.keys(this.config.clouds).join(', ')})`,
        'start the workflow with a configured cloud, or add it to the config and restart the worker',
      );
    return c;
  }

  host(cloud: string, name: string): { host: HostConfig; target: SshTarget } {
    const host = this.cloud(cloud).hosts[name];
    if (!host)
      throw fatal(
        FailureType.ConfigInvalid,
        `host "${name}" is not under clouds.${cloud}.hosts`,
        `use one of: ${Object.keys(this.cloud(cloud).hosts).join(', ')}`,
      );
    return {
      host,
      target: {
        name,
        address: host.address,
        port: host.port,
        user: host.user,
        keyFile: host.keyFile,
        hostKeyFingerprint: host.hostKeyFingerprint,
      },
    };
  }

  dbHost(
    cloud: string,
    name: string,
  ): { host: HostConfig & { mariadb: NonNullable<HostConfig['mariadb']> }; target: SshTarget } {
    const r = this.host(cloud, name);
    if (!r.host.mariadb)
      throw fatal(
        FailureType.ConfigInvalid,
        `host "${name}" has no mariadb section (clouds.${cloud}.hosts.${name}.mariadb)`,
        'add datadir, stopCommand and startCommand for that host',
      );
    return r as never;
  }

  /** The option file (with credentials) for a host, as bytes to send on stdin. */
  async dbOptionFile(cloud: string, host: HostConfig): Promise<Buffer> {
    const db = this.cloud(cloud).database;
    const password = await resolveSecret(db.password, `clouds.${cloud}.database.password`, this.deps.env);
    return Buffer.from(credentialOptionFile({ user: db.user, password }, host.mariadb?.defaultsFile));
  }

  async gpgKeys(): Promise<GpgKeys> {
    const e = this.config.encryption;
    const passphrase = e.passphrase
      ? await resolveSecret(e.passphrase, 'encryption.passphrase', this.deps.env)
      : undefined;
    return { homedir: join(this.config.stateDir, 'gnupg'), passphrase, recipientKeyFiles: e.recipientKeyFiles };
  }
}
