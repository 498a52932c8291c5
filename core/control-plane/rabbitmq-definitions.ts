// RabbitMQ definitions (the JSON of `rabbitmqctl export_definitions`): normalize and compare.
// Pure: used by the restore check (source backup vs the target's export after import), by the
// manifest (counts) and by tests. Users' password hashes are secret-ish: a difference in one is
// reported as "password hash differs", never with the value.

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };
export type Definitions = { [section: string]: Json };

/** Top-level fields that describe the exporting broker, not its configuration. */
const VERSION_FIELDS = ['rabbit_version', 'rabbitmq_version', 'product_name', 'product_version'];

/** Global parameters that identify a cluster rather than configure it (a restored cluster keeps its own). */
export const DEFAULT_IGNORED_GLOBAL_PARAMETERS = ['internal_cluster_id'];

/** Per section: the singular noun for messages and the fields that identify an item. */
const SECTIONS: Record<string, { noun: string; key: string[] }> = {
  users: { noun: 'user', key: ['name'] },
  vhosts: { noun: 'vhost', key: ['name'] },
  permissions: { noun: 'permission', key: ['user', 'vhost'] },
  topic_permissions: { noun: 'topic permission', key: ['user', 'vhost', 'exchange'] },
  parameters: { noun: 'parameter', key: ['vhost', 'component', 'name'] },
  global_parameters: { noun: 'global parameter', key: ['name'] },
  policies: { noun: 'policy', key: ['vhost', 'name'] },
  operator_policies: { noun: 'operator policy', key: ['vhost', 'name'] },
  queues: { noun: 'queue', key: ['vhost', 'name'] },
  exchanges: { noun: 'exchange', key: ['vhost', 'name'] },
  // a binding is all of its fields: two bindings that differ in any of them are two bindings
  bindings: {
    noun: 'binding',
    key: ['vhost', 'source', 'destination_type', 'destination', 'routing_key', 'arguments'],
  },
};
/** Order in which sections are reported (the order an import applies them). */
const SECTION_ORDER = [
  'vhosts',
  'users',
  'permissions',
  'topic_permissions',
  'parameters',
  'global_parameters',
  'policies',
  'operator_policies',
  'exchanges',
  'queues',
  'bindings',
];

const SECRET_FIELDS = new Set(['password_hash', 'password']);

export function parseDefinitions(text: string): Definitions {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`the RabbitMQ definitions are not JSON (${(e as Error).message})`);
  }
  if (!isObj(v)) throw new Error('the RabbitMQ definitions are not a JSON object');
  return v as Definitions;
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON with object keys sorted at every level: equal values give equal strings. */
export function canonicalJson(v: Json): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isObj(v))
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k]!)}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

function sortKeys(v: Json): Json {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (isObj(v))
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys(v[k]!)]),
    );
  return v;
}

function tagList(v: Json | undefined): Json {
  const tags = typeof v === 'string' ? v.split(',') : Array.isArray(v) ? v.map(String) : [];
  return [...new Set(tags.map((t) => t.trim()).filter(Boolean))].sort();
}

/** Limits come as {} (users), [[name, value], …] (vhosts in 3.9+) or {name: value}. */
function limitObject(v: Json | undefined): Json {
  if (Array.isArray(v))
    return Object.fromEntries(
      v.filter((p): p is Json[] => Array.isArray(p) && p.length === 2).map((p) => [String(p[0]), p[1]!]),
    );
  return isObj(v) ? v : {};
}

/** Smooths over what differs between RabbitMQ versions for the same configuration. */
function normalizeItem(section: string, item: Obj): Obj {
  const o: Obj = { ...item };
  if (section === 'users') {
    o.tags = tagList(o.tags);
    o.limits = limitObject(o.limits);
  }
  if (section === 'vhosts') {
    o.limits = limitObject(o.limits);
    const md: Obj = isObj(o.metadata) ? { ...o.metadata } : {};
    // older exports put description/tags at the top level, newer ones under metadata
    if (o.description !== undefined) md.description = o.description;
    if (o.tags !== undefined) md.tags = o.tags;
    delete o.description;
    delete o.tags;
    md.tags = tagList(md.tags);
    if (md.description === undefined || md.description === '') delete md.description;
    o.metadata = md;
  }
  if (section === 'queues' && o.type === undefined) {
    const args = isObj(o.arguments) ? o.arguments : {};
    o.type = typeof args['x-queue-type'] === 'string' ? args['x-queue-type'] : 'classic';
  }
  for (const k of ['arguments'])
    if (o[k] === undefined && (section === 'queues' || section === 'exchanges' || section === 'bindings')) o[k] = {};
  return sortKeys(o) as Obj;
}

function identity(section: string, item: Obj): string {
  const keys = SECTIONS[section]?.key ?? (item.name !== undefined ? ['vhost', 'name'] : []);
  if (keys.length === 0) return canonicalJson(item);
  return keys.map((k) => canonicalJson(item[k] ?? null)).join('\u0000');
}

export interface NormalizeOptions {
  /** Global parameters left out of the comparison (default: internal_cluster_id). */
  ignoreGlobalParameters?: string[];
}

/**
 * Drops the version fields, smooths version differences (tags as sorted lists, limits as
 * objects, queue type filled in), sorts object keys and every list by its identity keys.
 */
export function normalizeDefinitions(d: Definitions, opts: NormalizeOptions = {}): Definitions {
  const ignored = new Set(opts.ignoreGlobalParameters ?? DEFAULT_IGNORED_GLOBAL_PARAMETERS);
  const out: Definitions = {};
  for (const [section, value] of Object.entries(d)) {
    if (VERSION_FIELDS.includes(section)) continue;
    if (!Array.isArray(value)) {
      out[section] = sortKeys(value);
      continue;
    }
    let items = value.filter(isObj).map((i) => normalizeItem(section, i));
    if (section === 'global_parameters')
      items = items.filter((i) => !(typeof i.name === 'string' && ignored.has(i.name)));
    items.sort((a, b) => cmp(identity(section, a), identity(section, b)));
    out[section] = items;
  }
  return out;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface DefinitionDifference {
  /** missing: in the source only; extra: in the target only; differs: in both, with other settings. */
  kind: 'missing' | 'extra' | 'differs';
  section: string;
  /** Human-readable identity, e.g. "nova/compute" for a queue. */
  id: string;
  /** For `differs`: the fields that differ. */
  fields?: string[];
  message: string;
}

const q = (vhost: Json | undefined) => (vhost === '/' ? '%2F' : String(vhost));

function describe(section: string, i: Obj): string {
  const s = (k: string) => String(i[k] ?? '');
  switch (section) {
    case 'users':
    case 'vhosts':
    case 'global_parameters':
      return s('name');
    case 'permissions':
      return `${s('user')}@${q(i.vhost)}`;
    case 'topic_permissions':
      return `${s('user')}@${q(i.vhost)} exchange ${s('exchange') || '(default)'}`;
    case 'parameters':
      return `${q(i.vhost)}/${s('component')}/${s('name')}`;
    case 'bindings': {
      const args =
        isObj(i.arguments) && Object.keys(i.arguments).length > 0 ? ` arguments ${canonicalJson(i.arguments)}` : '';
      return `${q(i.vhost)}/${s('source') || '(default exchange)'} -> ${s('destination_type')} ${s('destination')} (key "${s('routing_key')}")${args}`;
    }
    default:
      return i.vhost !== undefined ? `${q(i.vhost)}/${s('name')}` : s('name') || canonicalJson(i).slice(0, 80);
  }
}

function show(field: string, v: Json | undefined): string {
  if (v === undefined) return 'unset';
  const t = canonicalJson(v);
  return t.length > 120 ? `${t.slice(0, 117)}...` : t;
}

/**
 * Compares two definitions documents (normalized here) item by item: what the target lacks,
 * what it has in addition, and which settings differ. Never prints secret field values.
 */
export function diffDefinitions(
  source: Definitions,
  target: Definitions,
  opts: NormalizeOptions = {},
): DefinitionDifference[] {
  const a = normalizeDefinitions(source, opts);
  const b = normalizeDefinitions(target, opts);
  const sections = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort((x, y) => rank(x) - rank(y) || cmp(x, y));
  const out: DefinitionDifference[] = [];
  for (const section of sections) {
    const noun = SECTIONS[section]?.noun ?? section;
    const av = a[section] ?? [];
    const bv = b[section] ?? [];
    if (!Array.isArray(av) || !Array.isArray(bv)) {
      if (canonicalJson(av) !== canonicalJson(bv))
        out.push({ kind: 'differs', section, id: section, message: `${section}: differs` });
      continue;
    }
    const am = new Map(av.filter(isObj).map((i) => [identity(section, i), i]));
    const bm = new Map(bv.filter(isObj).map((i) => [identity(section, i), i]));
    for (const [k, i] of am) {
      const id = describe(section, i);
      const other = bm.get(k);
      if (!other) {
        out.push({ kind: 'missing', section, id, message: `${noun} ${id}: missing on target` });
        continue;
      }
      const fields = [...new Set([...Object.keys(i), ...Object.keys(other)])]
        .sort()
        .filter((f) => canonicalJson(i[f] ?? null) !== canonicalJson(other[f] ?? null));
      if (fields.length === 0) continue;
      const parts = fields.map((f) => {
        if (SECRET_FIELDS.has(f)) return f === 'password_hash' ? 'password hash differs' : `${f} differs`;
        return `${f} differ${f.endsWith('s') ? '' : 's'} (source ${show(f, i[f])}, target ${show(f, other[f])})`;
      });
      out.push({ kind: 'differs', section, id, fields, message: `${noun} ${id}: ${parts.join('; ')}` });
    }
    for (const [k, i] of bm) {
      if (am.has(k)) continue;
      const id = describe(section, i);
      out.push({ kind: 'extra', section, id, message: `${noun} ${id}: extra on target (not in the backup)` });
    }
  }
  return out;
}

function rank(section: string): number {
  const i = SECTION_ORDER.indexOf(section);
  return i < 0 ? SECTION_ORDER.length : i;
}

/** Item counts per section, for manifests and logs (no names, no secrets). */
export function summarizeDefinitions(d: Definitions): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [section, value] of Object.entries(d)) if (Array.isArray(value)) out[section] = value.length;
  return out;
}

/** The same document with every password hash replaced, for anything that may be displayed. */
export function redactDefinitions(d: Definitions): Definitions {
  const users = d.users;
  if (!Array.isArray(users)) return d;
  return {
    ...d,
    users: users.map((u) =>
      isObj(u)
        ? Object.fromEntries(Object.entries(u).map(([k, v]) => [k, SECRET_FIELDS.has(k) ? '<redacted>' : v]))
        : u,
    ),
  };
}
