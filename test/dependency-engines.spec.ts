import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { FileTypeValidator } from '@nestjs/common';
import semver from 'semver';

const ROOT = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
};

describe('dependencies on the oldest Node we support', () => {
  const oldest = semver.minVersion(pkg.engines.node)!.version;

  it(`every locked package accepts Node ${oldest} (package.json engines), so npm install prints no EBADENGINE`, () => {
    const refusing = Object.entries(lock.packages)
      .filter(([path, entry]) => path !== '' && entry.engines && !Array.isArray(entry.engines) && entry.engines.node)
      .filter(([, entry]) => !semver.satisfies(oldest, (entry.engines as { node: string }).node))
      .map(([path, entry]) => `${path}@${entry.version} wants node ${(entry.engines as { node: string }).node}`);
    expect(refusing).toEqual([]);
  });

  // file-type is @nestjs/common's only use of it: FileTypeValidator (ParseFilePipe) imports it
  // lazily to check an upload's magic numbers. We have no uploads, but the override to the
  // Node-20 major must keep that path working for whoever adds one.
  it("@nestjs/common's FileTypeValidator still detects a file type through the overridden file-type", async () => {
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex');
    const validator = new FileTypeValidator({ fileType: 'image/png' });
    await expect(validator.isValid({ mimetype: 'image/png', buffer: png } as never)).resolves.toBe(true);
    await expect(
      validator.isValid({ mimetype: 'image/png', buffer: Buffer.from('GIF89a\x01\x00\x01\x00') } as never),
    ).resolves.toBe(false);
  });
});
