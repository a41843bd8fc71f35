import { Module } from '@nestjs/common';
import { ClientsModule } from '../clients/clients.module.js';
import { RevocationEventsModule } from './revocation-events.module.js';
import { RevocationFeedService } from './revocation-feed.service.js';
import { RevocationPurgeTask } from './revocation-purge.task.js';
import { RevocationsController } from './revocations.controller.js';

/** GET /auth/revocations, the feed resource servers follow, and the purge of its expired entries. */
@Module({
  imports: [RevocationEventsModule, ClientsModule],
  controllers: [RevocationsController],
  providers: [RevocationFeedService, RevocationPurgeTask],
  exports: [RevocationFeedService],
})
export class RevocationsModule {}
