import { fileURLToPath } from 'node:url';
import { startInstance, type Instance } from '../multi/instances.js';

/**
 * The example APIs as processes, the way an operator runs them: Instances started like the auth
 * instances, so the multi suite's start, stop and log helpers serve both.
 */

export const EXAMPLES = {
  express: fileURLToPath(new URL('../../examples/express-api/server.js', import.meta.url)),
  nest: fileURLToPath(new URL('../../examples/nest-api/dist/main.js', import.meta.url)),
} as const;

/** Starts an example API and waits until its public GET /health answers (it listens only once ready()). */
export function startExampleApi(
  name: string,
  file: string,
  port: number,
  env: Record<string, string>,
  dir: string,
): Promise<Instance> {
  return startInstance(name, port, { ...env, HOST: '127.0.0.1' }, dir, file);
}
