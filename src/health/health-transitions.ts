import type { LoggerService } from '@nestjs/common';
import type { HealthIndicatorResult } from '@nestjs/terminus';

/** What /health tells anyone about a dependency that is down: the detail is for the operator. */
export const UNAVAILABLE = 'unavailable';

/**
 * The public face of one dependency's health. /health is unauthenticated, so a down result's
 * detail (driver errors naming hosts, ports and paths) goes to the log instead of the answer,
 * once when the dependency goes down and once when it is back: a load balancer polling every
 * second would otherwise write the same error every second.
 */
export class HealthTransitions {
  private down = false;

  constructor(
    private readonly logger: Pick<LoggerService, 'error' | 'log'>,
    private readonly name: string,
  ) {}

  /** The result to answer with: up as it is, down with only `message: "unavailable"`. */
  publish<Key extends string>(key: Key, result: HealthIndicatorResult<Key>): HealthIndicatorResult<Key> {
    const detail = result[key];
    if (detail.status !== 'down') {
      if (this.down) this.logger.log(`${this.name} is up again`);
      this.down = false;
      return result;
    }
    if (!this.down) {
      const message = typeof detail.message === 'string' ? detail.message : 'no detail';
      this.logger.error(`${this.name} is down: ${message}`);
    }
    this.down = true;
    const answer = {} as HealthIndicatorResult<Key>;
    answer[key] = { status: 'down', message: UNAVAILABLE };
    return answer;
  }
}
