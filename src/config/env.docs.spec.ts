import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { describe, expect, it } from '@jest/globals';
import { ENV_VARS, type EnvVar } from './env.schema.js';
import { loadConfig } from './env.validation.js';

/**
 * The schema (env.schema.ts), `.env.example` and README's configuration table describe the same
 * variables with the same defaults. A variable added to one and not the others fails here.
 */

const ROOT = join(import.meta.dirname, '..', '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const ENV_EXAMPLE = readFileSync(join(ROOT, '.env.example'), 'utf8');
const NAMES = ENV_VARS.map((variable) => variable.name);

/** How README's Default cell must read for a variable. */
function readmeDefault(variable: EnvVar<unknown>): string {
  if (variable.default === undefined) return '—';
  return typeof variable.default === 'string' ? `\`${variable.default}\`` : variable.default.describe;
}

/** Variable name → Default cell, from the table under "## Configuration" (`A` / `B` rows split). */
function readmeTable(): Map<string, string> {
  const section = README.slice(README.indexOf('\n## Configuration\n'));
  const table = section.slice(section.indexOf('| Variable | Default |'));
  const rows = table.slice(0, table.indexOf('\n\n')).split('\n').slice(2);
  const defaults = new Map<string, string>();
  for (const row of rows) {
    const [names, cell] = row.split(' | ').map((part) => part.replace(/^\| /, ''));
    const nameList = [...names.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((match) => match[1]);
    const cells = nameList.length > 1 ? cell.split(' / ') : [cell];
    expect({ row, cells: cells.length }).toEqual({ row, cells: nameList.length });
    nameList.forEach((name, i) => {
      expect({ name, duplicate: defaults.has(name) }).toEqual({ name, duplicate: false });
      defaults.set(name, cells[i].trim());
    });
  }
  return defaults;
}

/** Variable name → { commented, value }, from `NAME=value` and `# NAME=value` lines. */
function envExampleLines(): Map<string, { commented: boolean; value: string }> {
  const lines = new Map<string, { commented: boolean; value: string }>();
  for (const line of ENV_EXAMPLE.split('\n')) {
    const match = /^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!match) continue;
    expect({ name: match[2], duplicate: lines.has(match[2]) }).toEqual({ name: match[2], duplicate: false });
    lines.set(match[2], { commented: !!match[1], value: match[3] });
  }
  return lines;
}

describe('configuration documentation', () => {
  it("README's table lists exactly the schema's variables, each with the schema's default", () => {
    const table = readmeTable();
    expect([...table.keys()].sort()).toEqual([...NAMES].sort());
    for (const variable of ENV_VARS) {
      expect({ name: variable.name, default: table.get(variable.name) }).toEqual({
        name: variable.name,
        default: readmeDefault(variable),
      });
    }
  });

  it('.env.example lists exactly the schema variables: fixed defaults as they are, derived and absent ones commented out', () => {
    const lines = envExampleLines();
    expect([...lines.keys()].sort()).toEqual([...NAMES].sort());
    for (const variable of ENV_VARS) {
      const line = lines.get(variable.name)!;
      const expected =
        typeof variable.default === 'string'
          ? { commented: false, value: variable.default }
          : // No default, or one derived from other variables: a fixed value here would freeze it.
            { commented: true, value: '' };
      expect({ name: variable.name, ...line }).toEqual({ name: variable.name, ...expected });
    }
  });

  it('.env.example copied as it is configures exactly the defaults, and changing PORT still moves the issuer', () => {
    const example = parseEnv(ENV_EXAMPLE);
    expect(loadConfig(example)).toEqual(loadConfig({}));
    expect(loadConfig({ ...example, PORT: '3001' }).auth).toMatchObject({
      issuer: 'http://localhost:3001',
      audience: 'http://localhost:3001',
    });
    expect(loadConfig({ ...example, NODE_ENV: 'production' }).http.cookieSecure).toBe(true);
  });

  it('the loader reads exactly the variables of the schema', () => {
    const read = new Set<string>();
    const env = new Proxy(
      {},
      {
        get: (_target, name) => {
          if (typeof name === 'string') read.add(name);
          return undefined;
        },
      },
    );
    loadConfig(env);
    expect([...read].sort()).toEqual([...NAMES].sort());
  });

  it('no other source file reads a variable of its own from process.env', () => {
    // Node's own settings, read by the preamble and the preload script.
    const nodeOwn = ['NODE_OPTIONS', 'UV_THREADPOOL_SIZE'];
    const files = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts') && !file.endsWith('.spec.ts'))
      .map((file) => join(ROOT, 'src', file))
      .concat(readdirSync(join(ROOT, 'scripts')).map((file) => join(ROOT, 'scripts', file)));
    const read = new Set<string>();
    for (const file of files) {
      for (const match of readFileSync(file, 'utf8').matchAll(
        /process\.env(?:\.([A-Z_][A-Z0-9_]*)|\[['"]([A-Z_][A-Z0-9_]*)['"]\])/g,
      )) {
        read.add(match[1] ?? match[2]);
      }
    }
    expect([...read].filter((name) => !NAMES.includes(name) && !nodeOwn.includes(name))).toEqual([]);
  });
});
