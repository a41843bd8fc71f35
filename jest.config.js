import { readFileSync } from 'node:fs';

// Nest 12 packages are ESM-only, so jest runs in ESM mode (`npm test` passes
// --experimental-vm-modules) and @swc/jest compiles TypeScript to ES modules, with the options
// test/utils/compile-src.ts compiles src/ with too (one file, so the two cannot drift apart).
const swc = {
  ...JSON.parse(readFileSync(new URL('./test/utils/swc-options.json', import.meta.url), 'utf8')),
  sourceMaps: 'inline',
};

export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['@swc/jest', swc] },
  roots: ['<rootDir>/src', '<rootDir>/test', '<rootDir>/client', '<rootDir>/resource-server'],
  testRegex: '(\\.spec|\\.e2e-spec)\\.ts$',
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '\\.pg\\.e2e-spec\\.ts$'],
  testTimeout: 30000,
};
