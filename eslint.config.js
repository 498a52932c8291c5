// Workflow code runs in Temporal's deterministic sandbox: no Node builtins, no activity
// implementations (only their types), and no floating promises anywhere in the project.
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
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: nodeBuiltins.map((name) => ({ name, message: 'Workflow code is deterministic: no Node builtins (do the I/O in an activity).' })),
        patterns: [
          { group: ['**/activities/**', '**/activities', '!**/activities/index.js'], message: 'Import activity *types* only: `import type` from activities/index.js.' },
          { group: ['@temporalio/worker', '@temporalio/client', '@temporalio/activity', 'execa', 'ssh2', '@aws-sdk/*', 'yaml'], message: 'Not allowed in workflow code: it does I/O.' },
        ],
      }],
      '@typescript-eslint/consistent-type-imports': 'off',
      'no-restricted-globals': ['error',
        { name: 'setInterval', message: 'Use workflow.sleep / condition.' },
        { name: 'process', message: 'Workflows do not read the process environment.' },
      ],
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'Use workflow time only through the SDK (new Date() is replayed deterministically); never Date.now() in helpers meant for activities.' },
        { object: 'Math', property: 'random', message: 'Use uuid4() from @temporalio/workflow.' },
      ],
    },
  },
  {
    // Activity imports in workflows must be type-only so no implementation is bundled.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-syntax': ['error', {
        selector: "ImportDeclaration[importKind!='type'][source.value=/activities/]",
        message: 'Workflows import activities with `import type` only.',
      }],
    },
  },
);
