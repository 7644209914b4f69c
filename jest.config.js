/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }]
  },
  testMatch: ['**/__tests__/**/*.test.ts'],
  // Stryker's sandbox copies of the project, while a mutation run is under way.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/.stryker-tmp/'],
  modulePathIgnorePatterns: ['<rootDir>/.stryker-tmp/'],
  // A bound for a test or hook that hangs, not a speed limit: on a busy machine (two cores, other
  // jobs) starting oidc-provider's process alone can take most of a minute.
  testTimeout: 180_000,
  collectCoverage: true,
  // The entries of the processes and the thread the action starts are covered by the tests that
  // run them (dist/).
  collectCoverageFrom: [
    'src/**/*.ts',
    '!src/index.ts',
    '!src/action/post.ts',
    '!src/service/index.ts',
    '!src/keys/pkcs12/kdf-worker.ts'
  ],
  coverageProvider: 'v8',
  coverageReporters: ['text-summary', 'json-summary'],
  coverageThreshold: { global: { lines: 90 } }
}
