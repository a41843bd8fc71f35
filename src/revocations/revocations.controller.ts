import type { OutgoingHttpHeaders } from 'node:http';
import { BadRequestException, Controller, Get, Headers, HttpStatus, Query, Req, Res } from '@nestjs/common';
import { ApiHeader, ApiOkResponse, ApiOperation, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiClient } from '../clients/api-client.entity.js';
import { AuthenticatedClient, ClientAuth } from '../clients/client-auth.decorator.js';
import { ApiErrorResponse, RETRY_AFTER_HEADER } from '../common/http/error-response.dto.js';
import { IgnoresBody } from '../common/http/accepts-body.decorator.js';
import { NO_STORE_HEADERS } from '../common/http/no-store.js';
import { RevocationPageDto, type RevocationItemDto } from './dto/revocation.dto.js';
import type { RevocationEvent } from './revocation-event.entity.js';
import { RevocationFeedService } from './revocation-feed.service.js';

/** A cursor: an id we handed out, in decimal; 15 digits keep it an exact JavaScript number. */
const CURSOR = /^\d{1,15}$/;
const EVENT_STREAM = /(^|[\s,])text\/event-stream(\s*(;|,|$))/i;

/** The revocation feed for resource servers (issue 14's contract). */
@ApiTags('oauth')
@ClientAuth()
@Controller('auth/revocations')
export class RevocationsController {
  constructor(private readonly feed: RevocationFeedService) {}

  @Get()
  @IgnoresBody()
  @ApiOperation({
    summary: 'The revocation feed: revoked sessions and user cut-offs, for resource servers',
    description: [
      'With `Accept: text/event-stream`: Server-Sent Events. Each entry is `id: <cursor>`, `event: revoked` and `data:` one JSON object, `{"sid","sub","until"}` for a session or `{"sub","notBefore","until"}` for a cut-off. First every entry whose `until` is still ahead (after `Last-Event-ID` or `since` when given), then live ones, within a second of the revocation at any instance; a comment line at least every second. Streams end after about 15 minutes; reconnect with `Last-Event-ID`.',
      'Otherwise the polling form: one page of `{items, next}`; call again with `since=next` until `items` is empty.',
      'A cursor beyond every id (another database, a restored backup) starts from the beginning.',
    ].join('\n\n'),
  })
  @ApiProduces('application/json', 'text/event-stream')
  @ApiQuery({ name: 'since', required: false, description: 'A cursor (an `id`): only entries after it', example: '42' })
  @ApiHeader({
    name: 'Last-Event-ID',
    required: false,
    description: 'SSE: the cursor to resume after (wins over `since`)',
  })
  @ApiOkResponse({ type: RevocationPageDto, description: 'A page (JSON), or the event stream (text/event-stream)' })
  @ApiErrorResponse(HttpStatus.BAD_REQUEST, 'A cursor that is not one of ours', {
    message: 'since must be a cursor (an id of the feed)',
  })
  @ApiErrorResponse(
    HttpStatus.TOO_MANY_REQUESTS,
    'Too many open streams for this client at this instance, or too many failed client authentications from this address; see Retry-After',
    { message: 'Too many open revocation streams for this client; try again in 5 s', headers: RETRY_AFTER_HEADER },
  )
  async revocations(
    @AuthenticatedClient() client: ApiClient,
    @Query('since') since: unknown,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Headers('accept') accept: string | undefined,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    // HEAD (which Fastify answers with this GET handler) gets the polling form's headers: a stream
    // whose writes Node discards would only hold a connection and a stream slot open.
    if (request.method === 'GET' && accept && EVENT_STREAM.test(accept)) {
      const cursor =
        lastEventId !== undefined ? parseCursor(lastEventId, 'Last-Event-ID') : parseCursor(since, 'since');
      await this.feed.stream(client.id, cursor, () => {
        // From here on the response is ours to write: Fastify neither sends nor times it.
        reply.hijack();
        // Fastify's reply headers (our security headers) are not sent for a hijacked reply: copy them.
        reply.raw.writeHead(200, {
          ...(reply.getHeaders() as OutgoingHttpHeaders),
          'cache-control': 'no-store',
          pragma: 'no-cache',
          'content-type': 'text/event-stream; charset=utf-8',
          // nginx and the like buffer responses unless told not to; a buffered feed is a dead one.
          'x-accel-buffering': 'no',
        });
        reply.raw.flushHeaders();
        request.raw.socket.setNoDelay(true);
        return reply.raw;
      });
      return;
    }
    const page = await this.feed.page(parseCursor(since, 'since'));
    await reply
      .headers(NO_STORE_HEADERS)
      .send({ items: page.items.map(item), next: String(page.next) } satisfies RevocationPageDto);
  }
}

function parseCursor(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !CURSOR.test(value)) {
    throw new BadRequestException(`${name} must be a cursor (an id of the feed)`);
  }
  return Number(value);
}

function item(event: RevocationEvent): RevocationItemDto {
  return event.sid === null
    ? { id: String(event.id), sub: event.sub, notBefore: event.notBefore ?? 0, until: event.until }
    : { id: String(event.id), sid: event.sid, sub: event.sub, until: event.until };
}
