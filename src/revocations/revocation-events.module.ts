import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { RevocationEvent } from './revocation-event.entity.js';
import { RevocationEventRepository } from './revocation-event.repository.js';
import { RevocationSignal } from './revocation.signal.js';

/**
 * The revocation feed's storage, for the modules that revoke (sessions, authz): they record
 * entries in their own transactions and raise the signal. Apart from RevocationsModule (the
 * feed's route), which needs client authentication and so sits above them.
 */
@Module({
  imports: [TypeOrmModule.forFeature([RevocationEvent])],
  providers: [RevocationEventRepository, RevocationSignal],
  exports: [RevocationEventRepository, RevocationSignal],
})
export class RevocationEventsModule {}
