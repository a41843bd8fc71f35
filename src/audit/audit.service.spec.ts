import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from '@jest/globals';
import type { TestingModule } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import { createTestingModule } from '../../test/utils/testing-module.js';
import { AuditEvent } from './audit-event.entity.js';
import { AuditEventSource } from './audit-event-source.entity.js';
import { AuditEventSourceRepository } from './audit-event-source.repository.js';
import { AuditEventRepository } from './audit-event.repository.js';
import { AuditModule } from './audit.module.js';
import { AuditService } from './audit.service.js';

const HOUR = 3_600_000;
/** A fixed clock, far from Date.now(). */
const T0 = Date.UTC(2031, 0, 1);

let moduleRef: TestingModule | undefined;

/** The service on migrated in-memory SQLite, as the app runs it. */
async function setup(): Promise<{ audit: AuditService; dataSource: DataSource }> {
  moduleRef = await createTestingModule({ imports: [AuditModule] });
  return { audit: moduleRef.get(AuditService), dataSource: moduleRef.get(DataSource) };
}

afterEach(async () => {
  await moduleRef?.close();
  moduleRef = undefined;
});

describe('AuditService.recordRepeatableForSession', () => {
  const scopeOf = (now: number) => String(Math.floor(now / HOUR));

  it('makes one row per session and scope, counting the repeats, and a new row for a new scope', async () => {
    const { audit, dataSource } = await setup();
    const session = { userId: randomUUID(), sessionId: randomUUID() };
    const other = { userId: session.userId, sessionId: randomUUID() };
    const detail = { route: 'refresh', cookies: 2 };

    for (const now of [T0, T0 + 1000, T0 + HOUR - 1]) {
      await audit.recordRepeatableForSession(
        'refresh_cookie_conflict',
        session,
        scopeOf(now),
        { ip: '203.0.113.7', detail },
        now,
      );
    }
    await audit.recordRepeatableForSession('refresh_cookie_conflict', other, scopeOf(T0), { detail }, T0);
    await audit.recordRepeatableForSession(
      'refresh_cookie_conflict',
      session,
      scopeOf(T0 + HOUR),
      { detail },
      T0 + HOUR,
    );

    const page = await audit.listForUser(session.userId, 10);
    const rows = page.items.map((e) => ({
      sessionId: e.sessionId,
      createdAt: e.createdAt,
      occurrences: e.occurrences,
    }));
    expect(rows).toHaveLength(3);
    expect(rows).toEqual(
      expect.arrayContaining([
        { sessionId: session.sessionId, createdAt: T0 + HOUR, occurrences: 1 },
        { sessionId: other.sessionId, createdAt: T0, occurrences: 1 },
        { sessionId: session.sessionId, createdAt: T0, occurrences: 3 },
      ]),
    );
    const first = await dataSource
      .getRepository(AuditEvent)
      .findOneByOrFail({ sessionId: session.sessionId, createdAt: T0 });
    expect(first).toMatchObject({ type: 'refresh_cookie_conflict', userId: session.userId, ip: '203.0.113.7' });
    expect(JSON.parse(first.detail!)).toEqual(detail);
  });

  it('shares the row with another instance writing the same session and scope (the unique key decides)', async () => {
    const { audit, dataSource } = await setup();
    const session = { userId: randomUUID(), sessionId: randomUUID() };
    await audit.recordRepeatableForSession('refresh_cookie_conflict', session, scopeOf(T0), {}, T0);
    // A second service on the same database stands for another instance: it has no memory of the row.
    const elsewhere = new AuditService(
      new AuditEventRepository(dataSource.getRepository(AuditEvent)),
      new AuditEventSourceRepository(dataSource.getRepository(AuditEventSource)),
    );
    await elsewhere.recordRepeatableForSession('refresh_cookie_conflict', session, scopeOf(T0), {}, T0 + 5);
    await elsewhere.onModuleDestroy();
    const rows = await dataSource.getRepository(AuditEvent).findBy({ sessionId: session.sessionId });
    expect(rows.map((r) => r.occurrences)).toEqual([2]);
  });
});
