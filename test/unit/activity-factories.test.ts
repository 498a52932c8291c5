// The activity factories: a name two factories return would silently replace the first under
// object spread, and the names are recorded in workflow histories, so they keep one form.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { activityFactories, createActivities, type Deps } from '../../activities/index.js';
import { createActivityContext } from '../../activities/context.js';
import { parseConfig } from '../../config/load.js';
import { configYaml } from '../helpers/config-fixture.js';
import { ACTIVITY_CLASSES } from '../../workflows/activity-classes.js';

/** Each name more than one factory returns, with the factories that return it. */
function sharedKeys(keysByFactory: Record<string, string[]>): Record<string, string[]> {
  const owners = new Map<string, string[]>();
  for (const [factory, keys] of Object.entries(keysByFactory))
    for (const k of keys) owners.set(k, [...(owners.get(k) ?? []), factory]);
  return Object.fromEntries([...owners].filter(([, factories]) => factories.length > 1));
}

// the domain comes first, then what the activity does
const DOMAINS = [
  'binlog',
  'catalog',
  'controlPlane',
  'crypto',
  'dr',
  'drill',
  'galera',
  'import',
  'mariadb',
  'openstack',
  'preflight',
  'repository',
  'retention',
  'service',
  'storage',
  'target',
  'targets',
  'tier',
];
const NAME = new RegExp(`^(?:${DOMAINS.join('|')})(?:[A-Z][a-z0-9]*)+$`);
// recorded before the rule: a rename would break the workflows that call it
const EXCEPTIONS = ['describeArtifact'];

const root = mkdtempSync(join(tmpdir(), 'osb-factories-unit-'));
const parsed = parseConfig(configYaml());
const deps: Deps = {
  config: { ...parsed, repository: { ...parsed.repository, type: 'local', path: root } },
  env: {},
  ssh: undefined as never,
};
const ctx = createActivityContext(deps);
const keysByFactory = Object.fromEntries(
  Object.entries(activityFactories).map(([domain, factory]) => [domain, Object.keys(factory(ctx))]),
);

afterAll(() => rmSync(root, { recursive: true, force: true }));

test('no two factories return the same activity name', () => {
  expect(sharedKeys(keysByFactory)).toEqual({});
});

test('the listed factories make up every registered activity', () => {
  const fromFactories = Object.values(keysByFactory).flat().sort();
  expect(fromFactories).toEqual(Object.keys(createActivities(deps)).sort());
  expect(fromFactories.length).toBeGreaterThan(100);
});

test('every activity name is camelCase and starts with its domain', () => {
  const names = Object.values(keysByFactory).flat();
  expect(names.filter((n) => !NAME.test(n) && !EXCEPTIONS.includes(n))).toEqual([]);
  expect(EXCEPTIONS.filter((n) => !names.includes(n))).toEqual([]);
});

test('the overlap finder names a shared activity and its factories', () => {
  expect(sharedKeys({ a: ['x', 'y'], b: ['z'], c: ['y'] })).toEqual({ y: ['a', 'c'] });
  expect(sharedKeys({ a: ['x'], b: ['y'] })).toEqual({});
});

test('every registered activity has a class (short or data-bound), and no class names a missing one', () => {
  const registered = Object.keys(createActivities(deps)).sort();
  expect(Object.keys(ACTIVITY_CLASSES).sort()).toEqual(registered);
  expect(new Set(Object.values(ACTIVITY_CLASSES))).toEqual(new Set(['short', 'data']));
});
