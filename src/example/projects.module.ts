import { Module } from '@nestjs/common';
import { ACCESS_TOKEN_CLAIMS } from '../auth/claims/access-token-claims.provider.js';
import { ProjectClaimsProvider } from './project-claims.provider.js';
import { ProjectsController } from './projects.controller.js';

@Module({
  controllers: [ProjectsController],
  // Found at start-up wherever it is registered: nothing to export, nothing to change in AuthModule.
  providers: [{ provide: ACCESS_TOKEN_CLAIMS, useClass: ProjectClaimsProvider }],
})
export class ProjectsModule {}
