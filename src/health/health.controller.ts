import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, type HealthIndicatorFunction } from '@nestjs/terminus';
import { Public } from '../auth/decorators/public.decorator.js';
import { DatabaseHealthIndicator } from './database.health.js';
import { HealthDownReportDto, HealthReportDto } from './dto/health-report.dto.js';
import { RedisHealthIndicator } from './redis.health.js';

/** Liveness and dependencies, for load balancers and orchestrators. */
@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: DatabaseHealthIndicator,
    private readonly redis: RedisHealthIndicator,
  ) {}

  @Get()
  // Documented here: terminus require()s @nestjs/swagger, an ES module, which fails under jest.
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOperation({ summary: 'Database and (when configured) Redis; 503 when one is down' })
  @ApiOkResponse({ type: HealthReportDto, description: 'Everything is up' })
  @ApiServiceUnavailableResponse({ type: HealthDownReportDto, description: 'A dependency is down' })
  check() {
    const checks: HealthIndicatorFunction[] = [() => this.database.check('database')];
    if (this.redis.configured) checks.push(() => this.redis.check('redis'));
    return this.health.check(checks);
  }
}
