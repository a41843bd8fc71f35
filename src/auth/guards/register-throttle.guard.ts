import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { RegisterThrottleService } from '../register-throttle.service.js';

/**
 * Counts a registration before its body is validated: a client over REGISTER_MAX_PER_IP gets its
 * 429 at the cost of a counter, not of validating whatever it sent (a flood of refusals must stay
 * cheap for everyone else's requests to get through).
 */
@Injectable()
export class RegisterThrottleGuard implements CanActivate {
  constructor(private readonly throttle: RegisterThrottleService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    await this.throttle.admit(context.switchToHttp().getRequest<FastifyRequest>().ip);
    return true;
  }
}
