// `npm run test:e2e:pg`: the e2e suites again, against PostgreSQL (TEST_DATABASE_URL), each app
// in a database of its own. Unit specs (src/) stay on in-memory SQLite and are not repeated.
import base from './jest.config.js';

export default {
  ...base,
  roots: ['<rootDir>/test'],
  testRegex: '\\.e2e-spec\\.ts$',
  globalSetup: '<rootDir>/test/utils/pg-global-setup.mjs',
  globalTeardown: '<rootDir>/test/utils/pg-global-teardown.mjs',
  // Each worker holds connections; two keep PostgreSQL comfortable on a small machine.
  maxWorkers: 2,
};
