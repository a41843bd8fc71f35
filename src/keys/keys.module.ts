import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { KeysService } from './keys.service.js';
import { SigningKey } from './signing-key.entity.js';
import { SigningKeyRepository } from './signing-key.repository.js';

@Module({
  imports: [TypeOrmModule.forFeature([SigningKey])],
  providers: [KeysService, SigningKeyRepository],
  exports: [KeysService],
})
export class KeysModule {}
