// OpenStack credentials as operators already keep them: a clouds.yaml (os-client-config search
// path, OS_CLOUD, an optional secure.yaml beside it) or the OS_* variables of an openrc file /
// the environment. Read at run time by the worker; the config only names where they are.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { fatal, FailureType } from '../errors.js';
import { registerSecret } from '../redact.js';

export type Interface = 'public' | 'internal' | 'admin';

export type Credentials = {
  authUrl: string;
  region?: string;
  interface: Interface;
  /** Where they came from (a path and cloud name, or "OS_* variables"), for error messages. */
  source: string;
} & (
  | {
      method: 'password';
      username?: string;
      userId?: string;
      password: string;
      userDomainName?: string;
      userDomainId?: string;
      projectName?: string;
      projectId?: string;
      projectDomainName?: string;
      projectDomainId?: string;
    }
  | {
      method: 'application_credential';
      id?: string;
      name?: string;
      secret: string;
      username?: string;
      userDomainName?: string;
    }
);

/** The config section's view of where credentials are (all optional: the environment decides then). */
export interface OpenstackAccess {
  cloudsYaml?: string;
  cloud?: string;
  openrc?: string;
  region?: string;
  interface?: Interface;
}

const str = z.string().min(1);
const cloudEntry = z
  .object({
    auth_type: str.optional(),
    auth: z
      .object({
        auth_url: str,
        username: str.optional(),
        user_id: str.optional(),
        password: str.optional(),
        project_name: str.optional(),
        project_id: str.optional(),
        user_domain_name: str.optional(),
        user_domain_id: str.optional(),
        project_domain_name: str.optional(),
        project_domain_id: str.optional(),
        domain_name: str.optional(),
        application_credential_id: str.optional(),
        application_credential_name: str.optional(),
        application_credential_secret: str.optional(),
      })
      .loose(),
    region_name: str.optional(),
    interface: z.enum(['public', 'internal', 'admin']).optional(),
  })
  .loose();
const cloudsFile = z.object({ clouds: z.record(z.string(), z.unknown()) }).loose();

/** os-client-config's search order for clouds.yaml. */
export function cloudsYamlSearchPath(env: NodeJS.ProcessEnv, cwd = process.cwd()): string[] {
  const out: string[] = [];
  if (env.OS_CLIENT_CONFIG_FILE) out.push(env.OS_CLIENT_CONFIG_FILE);
  out.push(
    join(cwd, 'clouds.yaml'),
    join(env.HOME ?? homedir(), '.config/openstack/clouds.yaml'),
    '/etc/openstack/clouds.yaml',
  );
  return out;
}

function merge(a: unknown, b: unknown): unknown {
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
    for (const [k, v] of Object.entries(b as Record<string, unknown>)) out[k] = merge(out[k], v);
    return out;
  }
  return b === undefined ? a : b;
}

function readYaml(path: string): unknown {
  try {
    return parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw fatal(
      FailureType.OpenstackCredentialsMissing,
      `cannot read ${path}: ${(e as Error).message}`,
      'point openstack.cloudsYaml at a readable clouds.yaml',
    );
  }
}

function fromCloudsYaml(path: string, cloud: string): Credentials {
  const file = cloudsFile.safeParse(readYaml(path));
  if (!file.success)
    throw fatal(
      FailureType.OpenstackCredentialsMissing,
      `${path} has no "clouds:" mapping`,
      'use the os-client-config clouds.yaml format',
    );
  // secure.yaml beside clouds.yaml holds the secrets of the same clouds (os-client-config)
  const secure = join(dirname(path), 'secure.yaml');
  const secureClouds = existsSync(secure)
    ? ((readYaml(secure) as { clouds?: Record<string, unknown> })?.clouds ?? {})
    : {};
  const raw = merge(file.data.clouds[cloud], secureClouds[cloud]);
  if (raw === undefined)
    throw fatal(
      FailureType.OpenstackCredentialsMissing,
      `cloud "${cloud}" is not in ${path} (it has: ${Object.keys(file.data.clouds).join(', ') || 'none'})`,
      'set openstack.cloud (or OS_CLOUD) to one of its clouds',
    );
  const parsed = cloudEntry.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw fatal(
      FailureType.OpenstackCredentialsMissing,
      `cloud "${cloud}" in ${path} is not usable (${issues})`,
      'give it at least auth.auth_url and a password or an application credential',
    );
  }
  const c = parsed.data;
  const a = c.auth;
  return build(`${path} (cloud ${cloud})`, {
    authType: c.auth_type,
    authUrl: a.auth_url,
    username: a.username,
    userId: a.user_id,
    password: a.password,
    projectName: a.project_name,
    projectId: a.project_id,
    userDomainName: a.user_domain_name ?? a.domain_name,
    userDomainId: a.user_domain_id,
    projectDomainName: a.project_domain_name ?? a.domain_name,
    projectDomainId: a.project_domain_id,
    appCredId: a.application_credential_id,
    appCredName: a.application_credential_name,
    appCredSecret: a.application_credential_secret,
    region: c.region_name,
    iface: c.interface,
  });
}

/** `export OS_X=value` lines of an openrc file. Nothing is executed: computed values are refused. */
export function parseOpenrc(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*(?:export\s+)?(OS_[A-Z_]+)=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2]!.trim();
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
    if (/\$[({A-Za-z]|`/.test(v)) continue; // computed in the shell (a prompt, a substitution): not a value we can use
    out[m[1]!] = v;
  }
  return out;
}

function fromOsVars(v: Record<string, string | undefined>, source: string): Credentials {
  if (!v.OS_AUTH_URL)
    throw fatal(
      FailureType.OpenstackCredentialsMissing,
      `no OS_AUTH_URL in ${source}`,
      'configure openstack.cloudsYaml/cloud, openstack.openrc, OS_CLOUD, or the OS_* variables',
    );
  const iface = (v.OS_INTERFACE ?? v.OS_ENDPOINT_TYPE)?.replace(/URL$/, '');
  return build(source, {
    authType: v.OS_AUTH_TYPE,
    authUrl: v.OS_AUTH_URL,
    username: v.OS_USERNAME,
    userId: v.OS_USER_ID,
    password: v.OS_PASSWORD,
    projectName: v.OS_PROJECT_NAME ?? v.OS_TENANT_NAME,
    projectId: v.OS_PROJECT_ID ?? v.OS_TENANT_ID,
    userDomainName: v.OS_USER_DOMAIN_NAME,
    userDomainId: v.OS_USER_DOMAIN_ID,
    projectDomainName: v.OS_PROJECT_DOMAIN_NAME,
    projectDomainId: v.OS_PROJECT_DOMAIN_ID,
    appCredId: v.OS_APPLICATION_CREDENTIAL_ID,
    appCredName: v.OS_APPLICATION_CREDENTIAL_NAME,
    appCredSecret: v.OS_APPLICATION_CREDENTIAL_SECRET,
    region: v.OS_REGION_NAME,
    iface,
  });
}

interface Fields {
  authType?: string;
  authUrl: string;
  username?: string;
  userId?: string;
  password?: string;
  projectName?: string;
  projectId?: string;
  userDomainName?: string;
  userDomainId?: string;
  projectDomainName?: string;
  projectDomainId?: string;
  appCredId?: string;
  appCredName?: string;
  appCredSecret?: string;
  region?: string;
  iface?: string;
}

function build(source: string, f: Fields): Credentials {
  const iface = (f.iface ?? 'public') as Interface;
  if (!['public', 'internal', 'admin'].includes(iface))
    throw fatal(
      FailureType.OpenstackCredentialsMissing,
      `interface "${f.iface}" in ${source} is not public, internal or admin`,
      'fix the interface',
    );
  // Keystone wants the v3 root; operators write it with or without /v3
  const authUrl = f.authUrl.replace(/\/+$/, '').replace(/\/v3$/, '') + '/v3';
  const common = { authUrl, region: f.region, interface: iface, source };
  const isAppCred = f.authType
    ? /applicationcredential|application_credential/.test(f.authType.replace(/^v3/, ''))
    : Boolean(f.appCredSecret && !f.password);
  if (isAppCred) {
    if (!f.appCredSecret || (!f.appCredId && !f.appCredName))
      throw fatal(
        FailureType.OpenstackCredentialsMissing,
        `${source}: an application credential needs its id (or name) and secret`,
        'add application_credential_id and application_credential_secret',
      );
    if (!f.appCredId && !f.username)
      throw fatal(
        FailureType.OpenstackCredentialsMissing,
        `${source}: an application credential given by name needs its user`,
        'give application_credential_id, or the username and user domain',
      );
    registerSecret(f.appCredSecret);
    return {
      ...common,
      method: 'application_credential',
      id: f.appCredId,
      name: f.appCredName,
      secret: f.appCredSecret,
      username: f.username,
      userDomainName: f.userDomainName,
    };
  }
  if (f.authType && !/^(v3)?password$/.test(f.authType))
    throw fatal(
      FailureType.OpenstackCredentialsMissing,
      `${source}: auth type "${f.authType}" is not supported`,
      'use password or v3applicationcredential',
    );
  if (!f.password)
    throw fatal(
      FailureType.OpenstackCredentialsMissing,
      `${source} has no password`,
      'add the password (clouds.yaml auth.password or secure.yaml, OS_PASSWORD), or use an application credential',
    );
  if (!f.username && !f.userId)
    throw fatal(
      FailureType.OpenstackCredentialsMissing,
      `${source} names no user`,
      'add username (and user_domain_name) or user_id',
    );
  registerSecret(f.password);
  return {
    ...common,
    method: 'password',
    username: f.username,
    userId: f.userId,
    password: f.password,
    userDomainName: f.userDomainName ?? (f.userDomainId ? undefined : 'Default'),
    userDomainId: f.userDomainId,
    projectName: f.projectName,
    projectId: f.projectId,
    projectDomainName: f.projectDomainName ?? (f.projectDomainId ? undefined : 'Default'),
    projectDomainId: f.projectDomainId,
  };
}

/**
 * Credentials in the operators' order: the config's clouds.yaml or openrc when it names one;
 * else OS_CLOUD through the os-client-config search path; else the OS_* variables.
 * Region and interface from the config override those of the credentials.
 */
export function loadCredentials(access: OpenstackAccess | undefined, env: NodeJS.ProcessEnv): Credentials {
  const a = access ?? {};
  let c: Credentials;
  if (a.openrc) {
    let text: string;
    try {
      text = readFileSync(a.openrc, 'utf8');
    } catch (e) {
      throw fatal(
        FailureType.OpenstackCredentialsMissing,
        `cannot read ${a.openrc}: ${(e as Error).message}`,
        'point openstack.openrc at a readable admin-openrc.sh',
      );
    }
    c = fromOsVars(parseOpenrc(text), a.openrc);
  } else if (a.cloudsYaml || a.cloud || env.OS_CLOUD) {
    const cloud = a.cloud ?? env.OS_CLOUD;
    if (!cloud)
      throw fatal(
        FailureType.OpenstackCredentialsMissing,
        `openstack.cloudsYaml is set but no cloud is named`,
        'set openstack.cloud (or OS_CLOUD)',
      );
    const path = a.cloudsYaml ?? cloudsYamlSearchPath(env).find((p) => existsSync(p));
    if (!path)
      throw fatal(
        FailureType.OpenstackCredentialsMissing,
        `no clouds.yaml found for cloud "${cloud}" (looked in ${cloudsYamlSearchPath(env).join(', ')})`,
        'set openstack.cloudsYaml, or put clouds.yaml in one of those places',
      );
    c = fromCloudsYaml(path, cloud);
  } else {
    c = fromOsVars(env, 'the OS_* variables');
  }
  return { ...c, region: a.region ?? c.region, interface: a.interface ?? c.interface };
}
