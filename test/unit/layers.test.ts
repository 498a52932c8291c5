// The layers stay apart: core/ is pure and imports only itself; nothing imports in a circle.
import { importCircles, moduleGraph } from '../helpers/module-graph.js';

const PRODUCT = ['core', 'config', 'workflows', 'activities', 'worker', 'client'];

test('core/ imports nothing but core/', () => {
  const graph = moduleGraph(process.cwd(), ['core']);
  const outside = [...graph].flatMap(([file, deps]) =>
    deps.filter((d) => !d.startsWith('core/')).map((d) => `${file} → ${d}`),
  );
  expect(outside).toEqual([]);
  expect(graph.size).toBeGreaterThan(30);
});

test('no import circles in the product code', () => {
  const circles = importCircles(moduleGraph(process.cwd(), PRODUCT));
  expect(circles.map((c) => c.join(' → '))).toEqual([]);
});

test('the circle finder finds a circle', () => {
  const graph = new Map([
    ['a.ts', ['b.ts']],
    ['b.ts', ['c.ts']],
    ['c.ts', ['a.ts']],
    ['d.ts', ['a.ts']],
  ]);
  expect(importCircles(graph)).toEqual([['a.ts', 'b.ts', 'c.ts', 'a.ts']]);
});
