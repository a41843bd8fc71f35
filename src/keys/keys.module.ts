import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { KeysService } from './keys.service.js';
import { SigningKey } from './signing-key.entity.js';

@Module({
  imports: [TypeOrmModule.forFeature([SigningKey])],
  providers: [KeysService],
  exports: [KeysService],
})
export class KeysModule {}
