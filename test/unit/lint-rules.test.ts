// The lint rules that keep workflows deterministic must actually bite.
import { rmSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';

/** Lints `lines` written to `probe` (removed afterwards): the rule ids reported per line. */
async function lintProbe(probe: string, lines: string[]): Promise<(line: number) => string[]> {
  writeFileSync(probe, [...lines, ''].join('\n'));
  try {
    const r = await execa('npx', ['eslint', '--format', 'json', probe], { reject: false });
    const messages = (JSON.parse(r.stdout) as { messages: { ruleId: string; line: number }[] }[])[0]!.messages;
    return (line) => messages.filter((m) => m.line === line).map((m) => m.ruleId);
  } finally {
    rmSync(probe, { force: true });
  }
}

test('workflow code may not import Node builtins or activity implementations, nor float promises', async () => {
  const at = await lintProbe('workflows/__lint_probe__.ts', [
    "import { readFileSync } from 'node:fs';",
    "import { createActivities } from '../activities/index.js';",
    "import type { Activities } from '../activities/index.js';",
    'export async function probe(a: Activities): Promise<void> {',
    '  Promise.resolve(1);',
    '  void readFileSync; void createActivities; void a; void proxyActivities; Date.now();',
    '}',
    "import { proxyActivities } from '@temporalio/workflow';",
  ]);
  expect(at(1)).toContain('@typescript-eslint/no-restricted-imports');
  expect(at(2)).toContain('@typescript-eslint/no-restricted-imports');
  expect(at(3)).toEqual([]); // `import type` is allowed
  expect(at(5)).toContain('@typescript-eslint/no-floating-promises');
  expect(at(6)).toContain('no-restricted-properties');
  expect(at(8)).toContain('no-restricted-imports'); // activities through options.ts's class-aware proxies
}, 60_000);

test('core/ is pure and the bottom layer: no builtins, no Date.now(), nothing imported from the layers above', async () => {
  const at = await lintProbe('core/__lint_probe__.ts', [
    "import { readFileSync } from 'node:fs';",
    "import type { Config } from '../config/schema.js';",
    "import type { Activities } from '../activities/index.js';",
    "import { chainTo } from './chain/chain.js';",
    'export function probe(c: Config, a: Activities): number {',
    '  void readFileSync; void c; void a; void chainTo; return Date.now();',
    '}',
  ]);
  expect(at(1)).toContain('@typescript-eslint/no-restricted-imports');
  expect(at(2)).toContain('no-restricted-imports'); // even a type: config imports core, not the reverse
  expect(at(3)).toContain('no-restricted-imports');
  expect(at(4)).toEqual([]);
  expect(at(6)).toContain('no-restricted-properties');
}, 60_000);
