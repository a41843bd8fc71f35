import { Injectable } from '@nestjs/common';
import type {
  AccessTokenClaimsContext,
  AccessTokenClaimsProvider,
} from '../auth/claims/access-token-claims.provider.js';

/** Tells the resource servers behind us what the user is in projects, so they need not ask. */
@Injectable()
export class ProjectClaimsProvider implements AccessTokenClaimsProvider {
  claims({ user }: AccessTokenClaimsContext) {
    return { project_role: user.roles.includes('project-lead') ? 'lead' : 'member' };
  }
}
