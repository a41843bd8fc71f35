import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { PasswordHashQueue } from './password-hash.queue.js';
import { PasswordHasherService } from './password-hasher.service.js';
import { User } from './user.entity.js';
import { UserRepository } from './user.repository.js';
import { UsersService } from './users.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([User])],
  providers: [UsersService, UserRepository, PasswordHasherService, PasswordHashQueue],
  exports: [UsersService, UserRepository, PasswordHashQueue],
})
export class UsersModule {}
