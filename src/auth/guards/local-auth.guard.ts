import { BadRequestException, Injectable, type ExecutionContext } from '@nestjs/common';
import { AuthGuard } from '@nestjs/passport';
import { InvalidScopeError } from '../../common/scope.js';
import { createValidationPipe } from '../../common/validation.js';
import { LoginDto } from '../dto/credentials.dto.js';
import { ScopePolicyService } from '../scopes/scope-policy.service.js';

/** The scope a login asked for, normalised by LocalAuthGuard (it is checked before the password). */
export interface LoginRequest {
  body: LoginDto;
  grantedScope: string[];
}

/**
 * Guards run before pipes, so the body is validated here first: a malformed login gets the same
 * 400 with field messages as any other route, and passport only sees well-formed credentials.
 * So is the requested scope: a scope that is not allowed costs no password hash and no attempt.
 */
@Injectable()
export class LocalAuthGuard extends AuthGuard('local') {
  private readonly validation = createValidationPipe();

  constructor(private readonly scopes: ScopePolicyService) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<{ body: unknown } & Partial<LoginRequest>>();
    const body = (await this.validation.transform(request.body ?? {}, {
      type: 'body',
      metatype: LoginDto,
    })) as LoginDto;
    request.body = body;
    try {
      request.grantedScope = this.scopes.requested(body.scope);
    } catch (error) {
      if (error instanceof InvalidScopeError) throw new BadRequestException(error.message);
      throw error;
    }
    return (await super.canActivate(context)) as boolean;
  }
}
