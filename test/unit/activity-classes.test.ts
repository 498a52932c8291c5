// A data-bound activity cannot be called through a short proxy, and no proxy lacks a heartbeat
// timeout: the compiler refuses both (workflows/options.ts, workflows/activity-classes.ts).
import { rmSync, writeFileSync } from 'node:fs';
import ts from 'typescript';

function typeErrorsByLine(file: string, lines: string[]): Map<number, string[]> {
  writeFileSync(file, [...lines, ''].join('\n'));
  try {
    const config = ts.getParsedCommandLineOfConfigFile(
      'tsconfig.json',
      {},
      {
        ...ts.sys,
        onUnRecoverableConfigFileDiagnostic: (d) => {
          throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
        },
      },
    )!;
    const program = ts.createProgram([file], { ...config.options, noEmit: true });
    const source = program.getSourceFile(file)!;
    const out = new Map<number, string[]>();
    for (const d of ts.getPreEmitDiagnostics(program, source)) {
      const line = source.getLineAndCharacterOfPosition(d.start ?? 0).line + 1;
      out.set(line, [...(out.get(line) ?? []), ts.flattenDiagnosticMessageText(d.messageText, ' ')]);
    }
    return out;
  } finally {
    rmSync(file, { force: true });
  }
}

test('data-bound activities only through a data-bound proxy, every proxy with a heartbeat timeout', () => {
  const errors = typeErrorsByLine('workflows/__classes_probe__.ts', [
    "import { dataBoundActivities, longStream, shortActivities, shortCall } from './options.js';",
    'const short = shortActivities(shortCall);',
    "export const a = () => short.mariadbCollectFacts({ cloud: 'c' });",
    "export const b = dataBoundActivities({ startToCloseTimeout: '1 minute' });",
    "export const c = () => dataBoundActivities(longStream).mariadbCollectFacts({ cloud: 'c' });",
    "export const d = () => short.describeArtifact({ id: 'x' });",
  ]);
  expect(errors.get(3)?.join()).toMatch(/mariadbCollectFacts/);
  expect(errors.get(4)?.join()).toMatch(/heartbeatTimeout/);
  expect(errors.get(5)).toBeUndefined();
  expect(errors.get(6)).toBeUndefined();
  expect([...errors.keys()].sort()).toEqual([3, 4]);
}, 120_000);
