import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestApp, type TestApp } from './utils/create-test-app.js';

const ROOT = join(import.meta.dirname, '..');
const README_URL = 'http://127.0.0.1:3000';

/** The fenced `sh` block under README's "A curl session through the whole flow". */
function readmeSession(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## A curl session through the whole flow\n'));
  const match = /```sh\n([\s\S]*?)```/.exec(section);
  if (!match) throw new Error('README: no ```sh block under "A curl session through the whole flow"');
  return match[1];
}

/**
 * The answers the block announces: each `# {…`, `# […` or `# HTTP/…` comment line, as a pattern
 * for one whole line of output, `…` standing for anything.
 */
function expectedAnswers(block: string): RegExp[] {
  return block
    .split('\n')
    .filter((line) => /^# (\{|\[|HTTP\/)/.test(line))
    .map((line) => {
      const escaped = line
        .slice(2)
        .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
        .replace(/…/g, '.*');
      return new RegExp(`^${escaped}$`);
    });
}

describe("README's curl session, run as written against a live server (e2e)", () => {
  let t: TestApp;
  let base: string;
  const dir = mkdtempSync(join(tmpdir(), 'nta-readme-'));

  beforeAll(async () => {
    // Production lifetimes and grace window, as a user gets them from `npm start`.
    t = await createTestApp({ REFRESH_REUSE_GRACE: '10s', ACCESS_TOKEN_TTL: '1h' });
    await t.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(t.server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('every command succeeds under bash -e and every answer matches the line the README shows', async () => {
    const block = readmeSession();
    // The only change: the server's address. The block must still start by setting it.
    expect(block.split('\n')[0]).toBe(`B=${README_URL}`);
    const script = block.replace(`B=${README_URL}`, `B=${base}`);
    const expected = expectedAnswers(block);
    expect(expected.length).toBeGreaterThanOrEqual(8);

    // Asynchronous: the server answering the script runs in this process.
    const { stdout } = await promisify(execFile)('bash', ['-e', '-c', script], { cwd: dir, timeout: 60_000 });
    const lines = stdout.split(/\r?\n/);
    // In order: each announced answer is a line of output after the previous one.
    let from = 0;
    for (const pattern of expected) {
      const at = lines.findIndex((line, i) => i >= from && pattern.test(line));
      expect({ pattern: pattern.source, found: at >= 0, output: at >= 0 ? undefined : lines.slice(from) }).toEqual({
        pattern: pattern.source,
        found: true,
        output: undefined,
      });
      from = at + 1;
    }
    // The tokens were captured, not left as placeholders: the sessions call was authorized.
    expect(stdout).toMatch(/^\[\{"id":"[^"]+".*"current":true\}\]$/m);
  }, 60_000);
});
