import '../preamble.js';
import 'reflect-metadata';
import { resolve } from 'node:path';
import { NestFactory } from '@nestjs/core';
import { AppModule } from '../app.module.js';
import { ClientsService } from '../clients/clients.service.js';
import { createAppLogger, PinoLoggerService } from '../common/logging/app-logger.js';
import { configFromEnvOrExit } from '../config/config-from-env.js';
import { ClientsCommandError, ClientsUsageError, parseClientsCommand, runClientsCommand } from './clients-command.js';

/**
 * `npm run clients -- create <name> | list | delete <client_id>`: the operator's tool for the
 * resource servers allowed to use introspection and the revocation feed, over the same
 * application context (config, database, migrations) as the server. Safe while servers run.
 */
async function main(args: string[]): Promise<void> {
  parseClientsCommand(args);
  const config = configFromEnvOrExit();
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), {
    logger: new PinoLoggerService(createAppLogger('warn', { format: config.http.logFormat })),
    // Start-up failures (an unwritable database) go to the one line below, not to process.abort().
    abortOnError: false,
  });
  try {
    for (const line of await runClientsCommand(args, app.get(ClientsService))) console.log(line);
  } finally {
    await app.close();
  }
}

/** The words after this script: run as `node dist/cli/clients.js …` or through scripts/start.mjs (`npm run clients -- …`). */
function commandLine(): string[] {
  const self = process.argv.findIndex((arg, i) => i > 0 && resolve(arg) === import.meta.filename);
  return process.argv.slice(self === -1 ? 2 : self + 1);
}

main(commandLine()).catch((error: Error) => {
  // Refusals are expected answers: their message is the line. Anything else says what failed.
  const known = error instanceof ClientsUsageError || error instanceof ClientsCommandError;
  console.error(known ? error.message : `clients command failed: ${error.message}`);
  process.exit(1);
});
