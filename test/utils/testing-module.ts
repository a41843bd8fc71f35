import { jest } from '@jest/globals';
import type { ModuleMetadata } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { Test, type TestingModule } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { AppConfig } from '../../src/config/app-config.js';
import { loadConfig } from '../../src/config/env.validation.js';
import { buildDataSourceOptions } from '../../src/database/data-source-options.js';
import { DatabaseModule } from '../../src/database/database.module.js';
import { RedisModule } from '../../src/redis/redis.module.js';

/**
 * What unit specs run with unless they say otherwise: cheap argon2, and HS256, whose key is
 * generated in microseconds (RSA would slow every test down).
 */
const UNIT_ENV: Record<string, string> = {
  NODE_ENV: 'test',
  JWT_ALG: 'HS256',
  ARGON2_MEMORY_KIB: '1024',
  ARGON2_ITERATIONS: '1',
};

/** A validated config, as the app would read it from these variables. */
export function testConfig(env: Record<string, string> = {}): AppConfig {
  return loadConfig({ ...UNIT_ENV, ...env });
}

export interface TestingModuleOptions extends Pick<ModuleMetadata, 'imports' | 'providers'> {
  /** Variables over UNIT_ENV. */
  env?: Record<string, string>;
  /**
   * A migrated SQLite database at this path (`:memory:` by default), with the global database
   * and Redis modules (no REDIS_URL: in-process); `false` for a spec that needs no database.
   */
  database?: string | false;
}

/**
 * The one way unit specs build what they test: the given modules and providers over a validated,
 * global config and (unless `database: false`) a migrated SQLite database, initialised (so
 * onModuleInit hooks ran) with Nest's logger off. Close it in `afterEach`.
 */
export async function createTestingModule(options: TestingModuleOptions = {}): Promise<TestingModule> {
  const { env = {}, database = ':memory:', imports = [], providers = [] } = options;
  const config = testConfig(env);
  const moduleRef = await Test.createTestingModule({
    imports: [
      ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: [() => ({ ...config })] }),
      ...(database === false
        ? []
        : [
            TypeOrmModule.forRoot(
              buildDataSourceOptions({
                type: 'sqlite',
                url: `sqlite:${database}`,
                sqlitePath: database,
                logging: false,
                busyTimeout: 5,
                sqliteCacheMb: 4,
              }),
            ),
            DatabaseModule,
            RedisModule,
          ]),
      ...imports,
    ],
    providers,
  }).compile();
  moduleRef.useLogger(false);
  await moduleRef.init();
  return moduleRef;
}

type Method = (...args: never[]) => unknown;
type Methods<T> = { [K in keyof T as T[K] extends Method ? K : never]: T[K] };

/**
 * A stand-in for a collaborator at the edge of what a spec tests: the given methods, each a
 * jest mock (so calls can be inspected). Any other member is missing, so a call the spec did not
 * expect fails with "is not a function" instead of quietly returning undefined.
 */
export function mockOf<T>(
  methods: Partial<Methods<T>> = {},
): T & { [K in keyof Methods<T>]: jest.Mock<Methods<T>[K] & Method> } {
  const mock: Record<string, unknown> = {};
  for (const [name, implementation] of Object.entries(methods)) {
    mock[name] = jest.fn(implementation as Method);
  }
  return mock as T & { [K in keyof Methods<T>]: jest.Mock<Methods<T>[K] & Method> };
}
