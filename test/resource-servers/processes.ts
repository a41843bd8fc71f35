import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { instanceLogs, stopInstance, type ExitInfo, type Instance } from '../multi/instances.js';

/**
 * The example APIs and the auth server's CLIs as processes, the way an operator runs them. An
 * example API is an Instance (same shape as an auth instance) so the multi suite's stop and log
 * helpers serve both.
 */

export const EXAMPLES = {
  express: fileURLToPath(new URL('../../examples/express-api/server.js', import.meta.url)),
  nest: fileURLToPath(new URL('../../examples/nest-api/dist/main.js', import.meta.url)),
} as const;

const STARTUP_TIMEOUT_MS = 20_000;

/** Starts an example API and waits until its public GET /health answers (it listens only once ready()). */
export async function startExampleApi(
  name: string,
  file: string,
  port: number,
  env: Record<string, string>,
  dir: string,
): Promise<Instance> {
  const stdoutPath = join(dir, `${name}.stdout.log`);
  const stderrPath = join(dir, `${name}.stderr.log`);
  const out = openSync(stdoutPath, 'a');
  const err = openSync(stderrPath, 'a');
  const child = spawn(process.execPath, [file], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', out, err],
  });
  closeSync(out);
  closeSync(err);
  const api: Instance = {
    name,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    child,
    stdoutPath,
    stderrPath,
    exited: new Promise<ExitInfo>((resolve) => {
      child.once('exit', (code, signal) => resolve((api.exitInfo = { code, signal })));
      child.once('error', () => resolve((api.exitInfo ??= { code: null, signal: null })));
    }),
  };
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (api.exitInfo) throw new Error(`${name} exited during start-up\n${instanceLogs(api)}`);
    try {
      const response = await fetch(`${api.baseUrl}/health`, { signal: AbortSignal.timeout(1000) });
      if (response.status === 200) return api;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await stopInstance(api);
  throw new Error(`${name} not healthy after ${STARTUP_TIMEOUT_MS} ms\n${instanceLogs(api)}`);
}

/** Runs `node dist/cli/<cli>.js …` (what `npm run <cli> -- …` runs) with the instances' environment. */
export function runCli(
  cli: 'clients' | 'users',
  env: Record<string, string>,
  dir: string,
  ...args: string[]
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const file = fileURLToPath(new URL(`../../dist/cli/${cli}.js`, import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}
