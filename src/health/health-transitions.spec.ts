import { describe, expect, it, jest } from '@jest/globals';
import { HealthIndicatorService } from '@nestjs/terminus';
import { HealthTransitions, UNAVAILABLE } from './health-transitions.js';

describe('HealthTransitions', () => {
  const session = new HealthIndicatorService().check('redis');
  const down = (message: string) => session.down({ message, responseTime: 3 });
  const up = () => session.up({ responseTime: 2 });

  it('answers a down dependency with "unavailable" only, and logs its detail once per change of state', () => {
    const logger = { error: jest.fn(), log: jest.fn() };
    const transitions = new HealthTransitions(logger, 'Redis');

    expect(transitions.publish('redis', up())).toEqual(up());
    for (const detail of [
      'connect ECONNREFUSED 10.0.0.7:6379',
      'connect ECONNREFUSED 10.0.0.7:6379',
      'timeout of 1500ms exceeded',
    ]) {
      expect(transitions.publish('redis', down(detail))).toEqual({ redis: { status: 'down', message: UNAVAILABLE } });
    }
    expect(logger.error.mock.calls).toEqual([['Redis is down: connect ECONNREFUSED 10.0.0.7:6379']]);
    expect(logger.log).not.toHaveBeenCalled();

    transitions.publish('redis', up());
    transitions.publish('redis', up());
    expect(logger.log.mock.calls).toEqual([['Redis is up again']]);

    transitions.publish('redis', down('timeout of 1500ms exceeded'));
    expect(logger.error).toHaveBeenCalledTimes(2);
    expect(logger.error).toHaveBeenLastCalledWith('Redis is down: timeout of 1500ms exceeded');
  });
});
