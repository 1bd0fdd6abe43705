// Two projects: unit tests sit beside the code; integration/e2e tests live under
// test/ and share one real control plane started by the global setup.
const tsJest = {
  '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: { warnOnly: false } }],
};
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: tsJest,
  testEnvironment: 'node',
  // Not test sources: etcd's data (its *.snap files would read as obsolete jest snapshots and
  // fail a --ci run), build output and scratch files.
  modulePathIgnorePatterns: ['<rootDir>/.local-cluster/', '<rootDir>/.tmp/', '<rootDir>/dist/'],
};
export default {
  // Integration suites wait on real components; unit tests finish long before this.
  testTimeout: 600000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/{crds,operator,migrator-image,plugin,bench}/**/*.test.ts'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/setup/global-setup.ts',
      globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
    },
    {
      ...common,
      displayName: 'faults',
      testMatch: ['<rootDir>/test/faults/**/*.test.ts'],
      globalSetup: '<rootDir>/test/faults/global-setup.ts',
    },
    {
      ...common,
      displayName: 'static',
      testMatch: ['<rootDir>/test/{chart,observability}/**/*.test.ts'],
      globalSetup: '<rootDir>/test/setup/cluster-with-crd-setup.ts',
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.test.ts'],
      globalSetup: '<rootDir>/test/e2e/global-setup.ts',
    },
    {
      ...common,
      displayName: 'migrator',
      testMatch: ['<rootDir>/test/migrator/**/*.test.ts'],
      globalSetup: '<rootDir>/test/setup/postgres-setup.ts',
      globalTeardown: '<rootDir>/test/setup/postgres-teardown.ts',
    },
    {
      // Every PostgreSQL major in DBM_PG_MATRIX (default "13 18") against the migrator;
      // the server binaries and pg_dump 18 are fetched and cached by scripts/postgres-versions.sh.
      ...common,
      displayName: 'matrix',
      testMatch: ['<rootDir>/test/matrix/**/*.test.ts'],
      globalSetup: '<rootDir>/test/matrix/global-setup.ts',
    },
  ],
};
