// temporal-dev.yml (for Docker users) and ./dev (for everyone else) must start the same server.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { SEARCH_ATTRIBUTE_NAMES } from '../../workflows/search-attributes.js';

const compose = parse(readFileSync('temporal-dev.yml', 'utf8')) as {
  services: { temporal: { image: string; command: string[]; ports: string[] } };
};
const dev = readFileSync('dev', 'utf8');
const svc = compose.services.temporal;
const flag = (name: string) =>
  svc.command.filter((c) => c.startsWith(`--${name}=`)).map((c) => c.slice(name.length + 3));
const devVar = (name: string) => new RegExp(`^${name}=\\(?([^)#\\n]*)\\)?`, 'm').exec(dev)?.[1]?.trim();

describe('temporal-dev.yml agrees with ./dev', () => {
  test('the image is pinned to the CLI version ./dev installs', () => {
    expect(svc.image).toMatch(/^temporalio\/temporal:\d+\.\d+\.\d+$/);
    expect(svc.image.split(':')[1]).toBe(devVar('TEMPORAL_BIN_VERSION'));
  });
  test('same namespace', () => {
    expect(flag('namespace')).toEqual([devVar('TEMPORAL_NAMESPACE')]);
  });
  test('same ports', () => {
    expect(flag('port')).toEqual([devVar('TEMPORAL_PORT')]);
    expect(flag('ui-port')).toEqual([devVar('TEMPORAL_UI_PORT')]);
    expect(svc.ports).toEqual([
      `127.0.0.1:${devVar('TEMPORAL_PORT')}:7233`,
      `127.0.0.1:${devVar('TEMPORAL_UI_PORT')}:8233`,
    ]);
  });
  test('same SQLite pragmas (WAL: ~4× less per-activity latency than the default journal)', () => {
    const devPragmas = [...dev.matchAll(/--sqlite-pragma (\S+)/g)].map((m) => m[1]);
    expect(devPragmas.length).toBeGreaterThan(0);
    expect(flag('sqlite-pragma')).toEqual(devPragmas);
  });
  test('same search attributes, and the ones the workflows use', () => {
    const composeAttrs = flag('search-attribute').map((a) => a.split('=')[0]);
    const devAttrs = devVar('SEARCH_ATTRIBUTES')!.split(/\s+/);
    expect(composeAttrs).toEqual([...SEARCH_ATTRIBUTE_NAMES]);
    expect(devAttrs).toEqual([...SEARCH_ATTRIBUTE_NAMES]);
    expect(flag('search-attribute').every((a) => a.endsWith('=Keyword'))).toBe(true);
  });
});
