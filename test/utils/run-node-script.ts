import { spawn } from 'node:child_process';

export interface ScriptRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node <file> …args` to its end, as an operator runs a CLI beside the server: its own
 * process, exactly `env` (plus PATH, so a developer's environment cannot change what is tested),
 * from `cwd`. Resolves with the exit code and the output.
 */
export function runNodeScript(
  file: string,
  args: string[],
  { cwd, env }: { cwd: string; env: Record<string, string | undefined> },
): Promise<ScriptRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], {
      cwd,
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
