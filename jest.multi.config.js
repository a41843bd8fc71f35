// `npm run test:multi`: two real instances (`node dist/main.js`) on one PostgreSQL database and
// one Redis. The script builds dist/ first; the suite spawns processes, so it runs alone and slowly.
import base from './jest.config.js';

export default {
  ...base,
  roots: ['<rootDir>/test/multi'],
  testRegex: '\\.multi-spec\\.ts$',
  maxWorkers: 1,
  testTimeout: 120000,
};
