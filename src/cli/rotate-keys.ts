import '../preamble.js';
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from '../app.module.js';
import { createAppLogger, PinoLoggerService } from '../common/logging/app-logger.js';
import { configFromEnvOrExit } from '../config/config-from-env.js';
import { KeysService } from '../keys/keys.service.js';

/**
 * `npm run keys:rotate`: adds a new access-token signing key over the same application context
 * (config, database, migrations) as the server. Running servers pick it up within 10 s (and
 * never sign with the old key more than 15 s after it was retired), or at once when they see a
 * token with its kid; tokens signed with the old key keep verifying until they expire.
 */
async function main(): Promise<void> {
  const config = configFromEnvOrExit();
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), {
    logger: new PinoLoggerService(createAppLogger('warn', { format: config.http.logFormat })),
    // Start-up failures (an unwritable database) go to the one line below, not to process.abort().
    abortOnError: false,
  });
  try {
    const keys = app.get(KeysService);
    const key = await keys.rotate();
    const published = keys.jwks().keys.map((k) => k.kid);
    console.log(`New signing key: kid=${key.kid} alg=${key.alg}`);
    console.log(`Published in JWKS: ${published.join(', ') || '(none: HS256)'}`);
    console.log(`The retired key stays published and accepted for ${Math.ceil(keys.retiredKeyLifetimeMs / 1000)} s`);
  } finally {
    await app.close();
  }
}

main().catch((error: Error) => {
  console.error(`Key rotation failed: ${error.message}`);
  process.exit(1);
});
