import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { PasswordHashQueue } from './password-hash.queue.js';
import { PasswordHasherService } from './password-hasher.service.js';
import { UserRole } from './user-role.entity.js';
import { UserRoleRepository } from './user-role.repository.js';
import { User } from './user.entity.js';
import { UserRepository } from './user.repository.js';
import { UsersService } from './users.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([User, UserRole])],
  providers: [UsersService, UserRepository, UserRoleRepository, PasswordHasherService, PasswordHashQueue],
  exports: [UsersService, UserRepository, UserRoleRepository, PasswordHashQueue],
})
export class UsersModule {}
