// ESM + ts-jest: the setup that works with execa 9 and the workflow bundler.
const common = {
  preset: 'ts-jest/presets/default-esm',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  testEnvironment: 'node',
  // Jest 30 "soft-deletes" globals a test file left behind; execa's signal-exit keeps its emitter on
  // globalThis, and a subprocess that ends after the file (a worker's children) then writes to the
  // soft-deleted object, whose wrapped setter calls itself until the stack overflows. Off: as before Jest 30.
  testEnvironmentOptions: { globalsCleanup: 'off' },
  modulePathIgnorePatterns: ['<rootDir>/dist/', '<rootDir>/.dev/'],
};
export default {
  // integration tests run real backups and restores; unit tests finish in milliseconds anyway
  testTimeout: 180_000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.test.ts'] },
  ],
};
