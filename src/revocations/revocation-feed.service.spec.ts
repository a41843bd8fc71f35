import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { TestingModule } from '@nestjs/testing';
import { createTestingModule } from '../../test/utils/testing-module.js';
import { ServerBusyException } from '../common/http/server-busy.exception.js';
import { TooManyAttemptsException } from '../common/http/too-many-attempts.exception.js';
import { UnitOfWork } from '../database/unit-of-work.js';
import { RevocationEventRepository, type NewRevocationEvent } from './revocation-event.repository.js';
import { RevocationEventsModule } from './revocation-events.module.js';
import {
  HEARTBEAT_MS,
  MAX_STREAMS_PER_CLIENT,
  REVOCATION_PAGE_SIZE,
  RevocationFeedService,
} from './revocation-feed.service.js';
import { RevocationPurgeTask } from './revocation-purge.task.js';
import { RevocationSignal } from './revocation.signal.js';

const NOW_S = Math.floor(Date.now() / 1000);
const LIVE = NOW_S + 3600;

/** The parts of a ServerResponse a stream uses, recording what is written. */
class FakeResponse extends EventEmitter {
  chunks: string[] = [];
  destroyed = false;
  writableEnded = false;
  writableLength = 0;
  writableNeedDrain = false;

  write(chunk: string): boolean {
    this.chunks.push(chunk);
    return true;
  }

  end(): void {
    this.writableEnded = true;
    this.emit('close');
  }

  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }

  /** The ids of the events written, in order. */
  get ids(): number[] {
    return this.chunks.flatMap((chunk) => {
      const id = /^id: (\d+)\n/.exec(chunk)?.[1];
      return id === undefined ? [] : [Number(id)];
    });
  }

  get comments(): number {
    return this.chunks.filter((chunk) => chunk.startsWith(':')).length;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually(check: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(5);
  }
}

describe('RevocationFeedService', () => {
  let moduleRef: TestingModule;
  let feed: RevocationFeedService;
  let events: RevocationEventRepository;
  let unitOfWork: UnitOfWork;
  let signal: RevocationSignal;
  let n = 0;

  /** Records entries as a revocation does (one transaction), then signals them. */
  async function record(...entries: Array<Partial<NewRevocationEvent>>): Promise<void> {
    const full = entries.map((entry) => ({ sid: `s-${++n}`, sub: 'u-1', until: LIVE, ...entry }) as NewRevocationEvent);
    await unitOfWork.commit(events.insertions(full, Date.now()));
    signal.raise();
  }

  async function open(clientId = 'client-a', since?: number): Promise<FakeResponse> {
    const response = new FakeResponse();
    await feed.stream(clientId, since, () => response as unknown as ServerResponse);
    return response;
  }

  beforeEach(async () => {
    n = 0;
    moduleRef = await createTestingModule({
      imports: [RevocationEventsModule],
      providers: [RevocationFeedService, RevocationPurgeTask],
    });
    feed = moduleRef.get(RevocationFeedService);
    events = moduleRef.get(RevocationEventRepository);
    unitOfWork = moduleRef.get(UnitOfWork);
    signal = moduleRef.get(RevocationSignal);
  });
  afterEach(async () => {
    feed.beforeApplicationShutdown();
    await moduleRef.close();
  });

  describe('page()', () => {
    it('answers the entries after the cursor, still in force, oldest first, one page at a time', async () => {
      await record({ until: NOW_S - 1 }, {}, { sid: undefined, notBefore: NOW_S, until: LIVE });
      const all = await feed.page(undefined);
      expect(all.items.map((item) => [item.id, item.sid, item.notBefore])).toEqual([
        [2, 's-2', null],
        [3, null, NOW_S],
      ]);
      expect(all.next).toBe(3);
      expect((await feed.page(2)).items.map((item) => item.id)).toEqual([3]);
    });

    it('with nothing after the cursor, answers the newest id as next, so expired stretches are skipped', async () => {
      expect(await feed.page(undefined)).toEqual({ items: [], next: 0 });
      await record({ until: NOW_S - 10 }, { until: NOW_S - 10 });
      expect(await feed.page(undefined)).toEqual({ items: [], next: 2 });
      expect(await feed.page(1)).toEqual({ items: [], next: 2 });
    });

    it(`pages at ${REVOCATION_PAGE_SIZE}`, async () => {
      await record(...Array.from({ length: REVOCATION_PAGE_SIZE + 3 }, () => ({})));
      const first = await feed.page(0);
      expect(first.items).toHaveLength(REVOCATION_PAGE_SIZE);
      expect(first.next).toBe(REVOCATION_PAGE_SIZE);
      expect((await feed.page(first.next)).items).toHaveLength(3);
    });

    it('takes a cursor beyond every id as none (another database): from the start', async () => {
      await record({}, {});
      expect(await feed.page(1000)).toEqual(await feed.page(undefined));
    });
  });

  describe('stream()', () => {
    it('writes the backfill, then live entries as they are signalled, each once and in order', async () => {
      await record({}, { until: NOW_S - 1 }, {});
      const response = await open();
      expect(response.ids).toEqual([1, 3]);
      expect(response.chunks).toContain(`id: 1\nevent: revoked\ndata: {"sid":"s-1","sub":"u-1","until":${LIVE}}\n\n`);
      await record({ sid: undefined, sub: 'u-2', notBefore: NOW_S });
      await eventually(() => response.ids.length === 3);
      expect(response.chunks.at(-1)).toBe(
        `id: 4\nevent: revoked\ndata: {"sub":"u-2","notBefore":${NOW_S},"until":${LIVE}}\n\n`,
      );
      expect(feed.openStreams).toBe(1);
    });

    it('resumes after its cursor', async () => {
      await record({}, {}, {});
      expect((await open('client-a', 2)).ids).toEqual([3]);
    });

    it('loses nothing committed while its backfill is read, and writes nothing twice', async () => {
      await record({}, {});
      const first = await open();
      // The second stream's backfill query (the one with a liveAt) is slow: entries commit and
      // are pumped to the open streams meanwhile.
      const findAfter = events.findAfter.bind(events);
      let slowed = false;
      const spy = jest.spyOn(events, 'findAfter').mockImplementation(async (...args) => {
        if (args.length === 3 && !slowed) {
          slowed = true;
          await record({}, {});
          await eventually(() => first.ids.length === 4);
        }
        return findAfter(...args);
      });
      const second = await open();
      spy.mockRestore();
      await record({});
      await eventually(() => second.ids.length === 5);
      await sleep(300);
      expect(second.ids).toEqual([1, 2, 3, 4, 5]);
      expect(first.ids).toEqual([1, 2, 3, 4, 5]);
    });

    it('finds entries of other instances by polling the table, without a signal', async () => {
      const response = await open();
      await unitOfWork.commit(events.insertions([{ sid: 'elsewhere', sub: 'u-9', until: LIVE }], Date.now()));
      await eventually(() => response.ids.length === 1, 1000);
    });

    it(`writes a comment every ${HEARTBEAT_MS} ms, the first at once`, async () => {
      const response = await open();
      expect(response.comments).toBe(1);
      await sleep(HEARTBEAT_MS * 2 + 100);
      expect(response.comments).toBeGreaterThanOrEqual(3);
    });

    it(`refuses more than ${MAX_STREAMS_PER_CLIENT} streams of one client, before writing anything`, async () => {
      for (let i = 0; i < MAX_STREAMS_PER_CLIENT; i++) await open();
      const opened = jest.fn(() => new FakeResponse() as unknown as ServerResponse);
      await expect(feed.stream('client-a', undefined, opened)).rejects.toBeInstanceOf(TooManyAttemptsException);
      expect(opened).not.toHaveBeenCalled();
      await open('client-b');
      expect(feed.openStreams).toBe(MAX_STREAMS_PER_CLIENT + 1);
    });

    it(`counts streams requested all at once: ${MAX_STREAMS_PER_CLIENT} of one client open, the rest are refused`, async () => {
      const results = await Promise.allSettled(
        Array.from({ length: MAX_STREAMS_PER_CLIENT * 3 }, () =>
          feed.stream('client-a', undefined, () => new FakeResponse() as unknown as ServerResponse),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(MAX_STREAMS_PER_CLIENT);
      for (const refused of results.filter((r) => r.status === 'rejected')) {
        expect(refused.reason).toBeInstanceOf(TooManyAttemptsException);
      }
      expect(feed.openStreams).toBe(MAX_STREAMS_PER_CLIENT);
    });

    it('forgets a stream its client closed', async () => {
      const response = await open();
      response.destroy();
      expect(feed.openStreams).toBe(0);
    });

    it('cuts a client that does not read (over 1 MiB waiting), rather than buffering for it', async () => {
      const response = await open();
      response.writableLength = 2 << 20;
      await record({});
      await eventually(() => response.destroyed);
      expect(feed.openStreams).toBe(0);
    });

    it('at shutdown, ends every stream and refuses new ones', async () => {
      const response = await open();
      feed.beforeApplicationShutdown();
      expect(response.writableEnded).toBe(true);
      expect(feed.openStreams).toBe(0);
      await expect(open()).rejects.toBeInstanceOf(ServerBusyException);
    });
  });

  describe('RevocationPurgeTask', () => {
    it('on its cron tick (called with an argument of cron’s own), deletes entries past their until but the newest', async () => {
      await record({ until: NOW_S - 100 }, {}, { until: NOW_S - 50 });
      const purge = moduleRef.get(RevocationPurgeTask);
      // cron calls the handler with its onComplete callback: it must not be taken for a time.
      await expect((purge.purge as (arg: unknown) => Promise<number>)(() => undefined)).resolves.toBe(1);
      expect((await events.findAfter(0, 10)).map((event) => event.id)).toEqual([2, 3]);
      await expect(purge.purgeAt((LIVE + 1) * 1000)).resolves.toBe(1);
      expect((await events.findAfter(0, 10)).map((event) => event.id)).toEqual([3]);
      expect(await events.head()).toBe(3);
    });
  });
});
