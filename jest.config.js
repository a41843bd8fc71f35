// Nest 12 packages are ESM-only, so jest runs in ESM mode (`npm test` passes
// --experimental-vm-modules) and @swc/jest compiles TypeScript to ES modules.
const swc = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
    target: 'es2022',
    keepClassNames: true,
  },
  module: { type: 'es6' },
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
