import '../preamble.js';
import 'reflect-metadata';
import { resolve } from 'node:path';
import { NestFactory } from '@nestjs/core';
import { AppModule } from '../app.module.js';
import { UserAdministrationError, UserAdministrationService } from '../authz/user-administration.service.js';
import { createAppLogger, PinoLoggerService } from '../common/logging/app-logger.js';
import { configFromEnvOrExit } from '../config/config-from-env.js';
import { parseUsersCommand, runUsersCommand, UsageError } from './users-command.js';

/**
 * `npm run users -- list | grant <username> <role> | revoke <username> <role> | disable <username>
 * | enable <username>`: the operator's tool for roles and disabled accounts (and how the first
 * admin is made), over the same application context (config, database, migrations) as the
 * server. Safe while servers run: every change is one conditional statement, audited.
 */
async function main(args: string[]): Promise<void> {
  parseUsersCommand(args);
  const config = configFromEnvOrExit();
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), {
    logger: new PinoLoggerService(createAppLogger('warn', { format: config.http.logFormat })),
    // Start-up failures (an unwritable database) go to the one line below, not to process.abort().
    abortOnError: false,
  });
  try {
    for (const line of await runUsersCommand(args, app.get(UserAdministrationService))) console.log(line);
  } finally {
    await app.close();
  }
}

/** The words after this script: run as `node dist/cli/users.js …` or through scripts/start.mjs (`npm run users -- …`). */
function commandLine(): string[] {
  const self = process.argv.findIndex((arg, i) => i > 0 && resolve(arg) === import.meta.filename);
  return process.argv.slice(self === -1 ? 2 : self + 1);
}

main(commandLine()).catch((error: Error) => {
  // Refusals are expected answers: their message is the line. Anything else says what failed.
  const known = error instanceof UsageError || error instanceof UserAdministrationError;
  console.error(known ? error.message : `users command failed: ${error.message}`);
  process.exit(1);
});
