// `npm run test:resource-servers`: two auth instances (`node dist/main.js`, PostgreSQL + Redis) and
// the two example APIs (examples/) as processes, each API reaching the auth server through a
// counting proxy. The script builds first; the suite spawns processes, so it runs alone.
import base from './jest.config.js';

export default {
  ...base,
  roots: ['<rootDir>/test/resource-servers'],
  testRegex: '\\.rs-spec\\.ts$',
  maxWorkers: 1,
  testTimeout: 60000,
};
