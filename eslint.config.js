// Workflow code runs in Temporal's deterministic sandbox: no Node builtins, no activity
// implementations (only their types), and no floating promises anywhere in the project.
// core/ is imported by workflows, so the same rules hold there, and it is the bottom layer:
// it imports nothing of the layers above it, not even types.
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['dist/**', '.dev/**', 'node_modules/**', 'coverage/**', 'bench/**/*.mjs'] },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.base],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  {
    files: ['workflows/**/*.ts', 'core/**/*.ts'],
    rules: {
      // Types are erased at build time, so `import type` stays allowed; values are not.
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({
            name,
            message: 'Workflow code is deterministic: no Node builtins (do the I/O in an activity).',
            allowTypeImports: true,
          })),
          patterns: [
            {
              group: ['**/activities', '**/activities/**'],
              message: 'Workflows import activity *types* only (`import type`), never implementations.',
              allowTypeImports: true,
            },
            {
              group: [
                '@temporalio/worker',
                '@temporalio/client',
                '@temporalio/activity',
                'execa',
                'ssh2',
                '@aws-sdk/*',
                'yaml',
                '**/config/load.js',
                '**/config/temporal.js',
              ],
              message: 'Not allowed in workflow code: it does I/O.',
              allowTypeImports: true,
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'setInterval', message: 'Use sleep / condition from @temporalio/workflow.' },
        { name: 'setTimeout', message: 'Use sleep / condition from @temporalio/workflow.' },
        { name: 'process', message: 'Workflows do not read the process environment.' },
      ],
      'no-restricted-properties': [
        'error',
        {
          object: 'Date',
          property: 'now',
          message:
            'Workflow time comes from the SDK (workflowInfo().startTime, new Date() is replayed); not Date.now().',
        },
        { object: 'Math', property: 'random', message: 'Use uuid4() from @temporalio/workflow.' },
      ],
    },
  },
  {
    files: ['core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/workflows', '**/workflows/**', '**/activities', '**/activities/**', '**/client/**'],
              message: 'core/ is the bottom layer: workflows, activities and the client import it, never the reverse.',
            },
            {
              group: ['**/worker/**', '**/config/**', '**/bench/**', '**/test/**'],
              message: 'core/ is the bottom layer: it imports nothing of the layers above it (config imports core).',
            },
          ],
        },
      ],
    },
  },
  {
    // activities are proxied through options.ts, whose proxies know each activity's class
    files: ['workflows/**/*.ts'],
    ignores: ['workflows/options.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: '@temporalio/workflow',
              importNames: ['proxyActivities'],
              message:
                'Use shortActivities() or dataBoundActivities() from ./options.js: they check the activity class.',
            },
          ],
        },
      ],
    },
  },
);
