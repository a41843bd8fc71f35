import { Controller, Get } from '@nestjs/common';
import { CurrentUser, type AccessTokenPrincipal } from '../auth/decorators/current-user.decorator.js';
import { Roles } from '../authz/roles.decorator.js';

@Controller('projects')
@Roles('project-lead') // every route here: a valid token without the role gets 403 insufficient_scope
export class ProjectsController {
  @Get()
  list(@CurrentUser() user: AccessTokenPrincipal) {
    return { lead: user.username, roles: user.roles };
  }
}
