// One authenticated OpenStack session per cloud and worker: a Keystone v3 token (password or
// application credential) reused until it nears expiry, endpoints from its service catalog
// (region and interface as configured), microversions pinned per call.
import { z } from 'zod';
import { fatal, FailureType } from '../errors.js';
import type { Credentials } from './credentials.js';
import { httpFailure, networkFailure } from './http.js';

/** Renew this long before Keystone's expiry, so a long stream never starts on a dying token. */
const RENEW_BEFORE_MS = 10 * 60_000;

const catalogSchema = z.array(
  z.object({
    type: z.string(),
    name: z.string().optional(),
    endpoints: z.array(
      z.object({
        interface: z.string(),
        region: z.string().nullish(),
        region_id: z.string().nullish(),
        url: z.string(),
      }),
    ),
  }),
);
const tokenBody = z.object({
  token: z.object({
    expires_at: z.string(),
    catalog: catalogSchema.default([]),
    project: z.object({ id: z.string() }).optional(),
    user: z.object({ id: z.string() }),
  }),
});

export interface Token {
  value: string;
  expiresAt: number;
  catalog: z.infer<typeof catalogSchema>;
  projectId?: string;
  userId: string;
}

/** The API families osbackup calls, with the catalog types that name them (new and legacy). */
export const SERVICE_TYPES = {
  identity: ['identity'],
  volume: ['block-storage', 'volumev3', 'volume'],
  image: ['image'],
  compute: ['compute'],
} as const;
export type Service = keyof typeof SERVICE_TYPES;

export interface RequestOptions {
  json?: unknown;
  body?: string | Uint8Array | NodeJS.ReadableStream;
  headers?: Record<string, string>;
  /** Pinned microversion of this call ("3.50" for volume, "2.45" for compute). */
  microversion?: string;
  /** Query parameters (undefined values left out). */
  query?: Record<string, string | number | boolean | undefined>;
  /** Statuses that are answers, not failures (404 for "is it still there?"). */
  accept?: number[];
  /** No overall timeout (long downloads; the activity heartbeats instead). */
  stream?: boolean;
}

export class OpenStackSession {
  private token?: Promise<Token>;
  /** How many times Keystone was asked for a token (tests prove reuse with it). */
  authCount = 0;

  constructor(
    readonly creds: Credentials,
    private readonly timeoutMs = 60_000,
  ) {}

  private authBody(): unknown {
    const c = this.creds;
    if (c.method === 'application_credential') {
      const ac = c.id
        ? { id: c.id, secret: c.secret }
        : {
            name: c.name,
            secret: c.secret,
            user: { name: c.username, domain: { name: c.userDomainName ?? 'Default' } },
          };
      return { auth: { identity: { methods: ['application_credential'], application_credential: ac } } };
    }
    const user = c.userId
      ? { id: c.userId, password: c.password }
      : {
          name: c.username,
          password: c.password,
          domain: c.userDomainId ? { id: c.userDomainId } : { name: c.userDomainName },
        };
    const scope = c.projectId
      ? { project: { id: c.projectId } }
      : c.projectName
        ? {
            project: {
              name: c.projectName,
              domain: c.projectDomainId ? { id: c.projectDomainId } : { name: c.projectDomainName },
            },
          }
        : undefined;
    return { auth: { identity: { methods: ['password'], password: { user } }, ...(scope ? { scope } : {}) } };
  }

  private async authenticate(): Promise<Token> {
    this.authCount++;
    const url = `${this.creds.authUrl}/auth/tokens`;
    const what = `Keystone ${url} (${this.creds.source})`;
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(this.authBody()),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      throw networkFailure(e, what);
    }
    const text = await res.text();
    if (res.status !== 201) throw httpFailure(res.status, text, what);
    const value = res.headers.get('x-subject-token');
    const parsed = tokenBody.safeParse(JSON.parse(text));
    if (!value || !parsed.success)
      throw fatal(
        FailureType.OpenstackAuthFailed,
        `${what}: the answer is not a Keystone v3 token`,
        'point auth_url at Keystone v3',
      );
    const t = parsed.data.token;
    return {
      value,
      expiresAt: Date.parse(t.expires_at),
      catalog: t.catalog,
      projectId: t.project?.id,
      userId: t.user.id,
    };
  }

  /** A valid token: the cached one while it has more than RENEW_BEFORE_MS left, else a new one. */
  async currentToken(): Promise<Token> {
    if (this.token) {
      const t = await this.token.catch(() => undefined);
      if (t && t.expiresAt - Date.now() > RENEW_BEFORE_MS) return t;
    }
    const p = this.authenticate();
    this.token = p;
    p.catch(() => {
      if (this.token === p) this.token = undefined;
    });
    return p;
  }

  invalidate(): void {
    this.token = undefined;
  }

  /** The endpoint of a service for the configured region and interface; a clear failure when there is none. */
  async endpoint(service: Service): Promise<string> {
    const t = await this.currentToken();
    const types: readonly string[] = SERVICE_TYPES[service];
    const entry = t.catalog.find((e) => types.includes(e.type));
    const { region, interface: iface } = this.creds;
    if (!entry) {
      throw fatal(
        FailureType.OpenstackEndpointMissing,
        `the service catalog of ${this.creds.authUrl} has no ${service} service (${types.join('/')}); it has: ${t.catalog.map((e) => e.type).join(', ') || 'nothing (is the token scoped to a project?)'}`,
        `register the ${service} service and its endpoints in Keystone, or scope the credentials to a project`,
      );
    }
    const regions = [...new Set(entry.endpoints.map((e) => e.region_id ?? e.region ?? ''))];
    const inRegion = entry.endpoints.filter((e) => !region || (e.region_id ?? e.region) === region);
    if (inRegion.length === 0)
      throw fatal(
        FailureType.OpenstackEndpointMissing,
        `no ${service} endpoint in region "${region}" (the catalog has regions: ${regions.join(', ')})`,
        'set the region (openstack.region or region_name / OS_REGION_NAME) to one of those',
      );
    if (!region && regions.length > 1)
      throw fatal(
        FailureType.OpenstackEndpointMissing,
        `${service} has endpoints in several regions (${regions.join(', ')}) and no region is configured`,
        'set openstack.region (or region_name / OS_REGION_NAME)',
      );
    const ep = inRegion.find((e) => e.interface === iface);
    if (!ep)
      throw fatal(
        FailureType.OpenstackEndpointMissing,
        `no ${iface} ${service} endpoint${region ? ` in region ${region}` : ''} (interfaces: ${inRegion.map((e) => e.interface).join(', ')})`,
        'set openstack.interface to one the catalog has',
      );
    // Cinder's legacy URLs carry the project: %(project_id)s / $(project_id)s templates
    return ep.url
      .replace(/%\(project_id\)s|\$\(project_id\)s|%\(tenant_id\)s|\$\(tenant_id\)s/g, t.projectId ?? '')
      .replace(/\/+$/, '');
  }

  /** One API call. Failures are typed (see http.ts); a 401 on a reused token renews it once. */
  async request(service: Service, method: string, path: string, o: RequestOptions = {}): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      const t = await this.currentToken();
      const base = await this.endpoint(service);
      const q = Object.entries(o.query ?? {}).filter(([, v]) => v !== undefined);
      const url = `${base}${path}${q.length ? '?' + new URLSearchParams(q.map(([k, v]): [string, string] => [k, String(v)])).toString() : ''}`;
      const headers: Record<string, string> = { 'X-Auth-Token': t.value, Accept: 'application/json', ...o.headers };
      if (o.microversion) {
        const family = service === 'compute' ? 'compute' : service === 'volume' ? 'volume' : service;
        headers['OpenStack-API-Version'] = `${family} ${o.microversion}`;
        if (service === 'compute') headers['X-OpenStack-Nova-API-Version'] = o.microversion;
      }
      let body = o.body as RequestInit['body'];
      if (o.json !== undefined) {
        body = JSON.stringify(o.json);
        headers['Content-Type'] = 'application/json';
      }
      const what = `${method} ${service} ${path}`;
      let res: Response;
      try {
        res = await fetch(url, {
          method,
          headers,
          body,
          ...(o.body && !(typeof o.body === 'string') ? { duplex: 'half' } : {}),
          signal: o.stream ? undefined : AbortSignal.timeout(this.timeoutMs),
        } as RequestInit);
      } catch (e) {
        throw networkFailure(e, what);
      }
      if (res.ok || o.accept?.includes(res.status)) return res;
      const text = await res.text().catch(() => '');
      // a token revoked or expired early: renew once (a streamed body cannot be sent twice)
      if (res.status === 401 && attempt === 0 && (o.body === undefined || typeof o.body === 'string')) {
        this.invalidate();
        continue;
      }
      throw httpFailure(res.status, text, what);
    }
  }

  async json<T extends z.ZodType>(
    schema: T,
    service: Service,
    method: string,
    path: string,
    o: RequestOptions = {},
  ): Promise<z.infer<T>> {
    const res = await this.request(service, method, path, o);
    const text = await res.text();
    const parsed = schema.safeParse(text ? JSON.parse(text) : {});
    if (!parsed.success) {
      throw fatal(
        FailureType.OpenstackRequestRejected,
        `${method} ${service} ${path}: unexpected answer (${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')})`,
        'check the API version of the cloud (osbackup pins microversions for Zed and later)',
      );
    }
    return parsed.data;
  }
}
