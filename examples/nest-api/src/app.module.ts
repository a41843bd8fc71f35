import { Module } from '@nestjs/common';
import { ResourceServerModule } from '../../../resource-server/dist/nest/index.js';
import { OrdersController } from './orders.controller.js';

function env(name: string, fallback?: string): string {
  const value = process.env[name] || fallback;
  if (value === undefined) {
    console.error(`${name} is required (see examples/nest-api/README.md)`);
    process.exit(1);
  }
  return value;
}

const issuer = env('AUTH_ISSUER');

@Module({
  imports: [
    // Start-up waits for the JWKS and the feed's catch-up: a wrong client secret fails it.
    ResourceServerModule.forRoot({
      issuer,
      audience: env('AUTH_AUDIENCE', issuer),
      clientId: env('AUTH_CLIENT_ID'),
      clientSecret: env('AUTH_CLIENT_SECRET'),
      authServerUrl: env('AUTH_SERVER_URL', issuer),
      whenStale: env('WHEN_STALE', 'introspect') as 'introspect' | 'reject',
      maxStaleness: Number(env('MAX_STALENESS', '5')),
    }),
  ],
  controllers: [OrdersController],
})
export class AppModule {}
