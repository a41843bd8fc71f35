import { ApiProperty, type ApiPropertyOptions } from '@nestjs/swagger';

/** Terminus' map of indicator results, keyed by dependency. */
const indicators = (example: object, nullable: boolean): ApiPropertyOptions => ({
  type: 'object',
  nullable,
  description:
    'Per dependency (database, redis): `status` up or down, and `message: "unavailable"` when down (the cause goes to the server log)',
  additionalProperties: {
    type: 'object',
    required: ['status'],
    properties: { status: { type: 'string', enum: ['up', 'down'] }, message: { type: 'string' } },
    additionalProperties: true,
  },
  example,
});

const UP = { database: { status: 'up' } };
const DOWN = { redis: { status: 'down', message: 'unavailable' } };

/** GET /health's answer (terminus' report) when everything is up. */
export class HealthReportDto {
  @ApiProperty({ enum: ['ok'] })
  status: string;

  @ApiProperty(indicators(UP, true))
  info: Record<string, object>;

  @ApiProperty(indicators({}, true))
  error: Record<string, object>;

  @ApiProperty(indicators(UP, false))
  details: Record<string, object>;
}

/** The 503 answer: `error` names what is down. */
export class HealthDownReportDto {
  @ApiProperty({ enum: ['error', 'shutting_down'] })
  status: string;

  @ApiProperty(indicators(UP, true))
  info: Record<string, object>;

  @ApiProperty(indicators(DOWN, true))
  error: Record<string, object>;

  @ApiProperty(indicators({ ...UP, ...DOWN }, false))
  details: Record<string, object>;
}
