import { resolve } from 'node:path';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from '../app.module.js';
import { createAppLogger, PinoLoggerService } from '../common/logging/app-logger.js';
import { configFromEnvOrExit } from '../config/config-from-env.js';

/** One `npm run <name> -- …` operator command over the server's application context. */
export interface OperatorCommand {
  /** As in `npm run <name>`; names the failure line. */
  name: string;
  /** `import.meta.filename` of the entry script, to find where its arguments start. */
  entry: string;
  /** Throws the usage error before anything is started. */
  parse(args: string[]): void;
  /** The lines to print. */
  run(args: string[], app: INestApplicationContext): Promise<string[]>;
  /** Refusals (bad usage, unknown user…): expected answers, whose message is the one line shown. */
  isRefusal(error: Error): boolean;
}

/**
 * Runs the command with the same config, database and migrations as the server (safe while
 * servers run), prints its lines, and exits 1 with one line on stderr when it fails.
 */
export function runOperatorCommand(command: OperatorCommand): void {
  const args = commandLine(command.entry);
  main(command, args).catch((error: Error) => {
    console.error(command.isRefusal(error) ? error.message : `${command.name} command failed: ${error.message}`);
    process.exit(1);
  });
}

async function main(command: OperatorCommand, args: string[]): Promise<void> {
  command.parse(args);
  const config = configFromEnvOrExit();
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), {
    logger: new PinoLoggerService(createAppLogger('warn', { format: config.http.logFormat })),
    // Start-up failures (an unwritable database) go to the one line above, not to process.abort().
    abortOnError: false,
  });
  try {
    for (const line of await command.run(args, app)) console.log(line);
  } finally {
    await app.close();
  }
}

/** The words after the script: run as `node dist/cli/<name>.js …` or through scripts/start.mjs (`npm run <name> -- …`). */
function commandLine(entry: string): string[] {
  const self = process.argv.findIndex((arg, i) => i > 0 && resolve(arg) === entry);
  return process.argv.slice(self === -1 ? 2 : self + 1);
}
