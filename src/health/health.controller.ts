import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService, type HealthIndicatorFunction } from '@nestjs/terminus';
import { Public } from '../auth/decorators/public.decorator.js';
import { RedisConnections } from '../redis/redis.module.js';
import { DatabaseHealthIndicator } from './database.health.js';
import { HealthDownReportDto, HealthReportDto } from './dto/health-report.dto.js';

/** Liveness and dependencies, for load balancers and orchestrators. */
@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: DatabaseHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    private readonly redis: RedisConnections,
  ) {}

  @Get()
  // Documented here: terminus require()s @nestjs/swagger, an ES module, which fails under jest.
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOperation({ summary: 'Database and (when configured) Redis; 503 when one is down' })
  @ApiOkResponse({ type: HealthReportDto, description: 'Everything is up' })
  @ApiServiceUnavailableResponse({ type: HealthDownReportDto, description: 'A dependency is down' })
  check() {
    const checks: HealthIndicatorFunction[] = [() => this.database.check('database')];
    const client = this.redis.client;
    if (client) {
      checks.push(() =>
        this.indicators
          .check('redis')
          .attempt(async () => {
            if ((await client.ping()) !== 'PONG') throw new Error('unexpected PING reply');
          })
          .withTimeout(1500),
      );
    }
    return this.health.check(checks);
  }
}
