import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { PasswordHashQueue } from './password-hash.queue.js';
import { PasswordHasher } from './password-hasher.service.js';
import { User } from './user.entity.js';
import { UsersService } from './users.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([User])],
  providers: [UsersService, PasswordHasher, PasswordHashQueue],
  exports: [UsersService, PasswordHashQueue],
})
export class UsersModule {}
