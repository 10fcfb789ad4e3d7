import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ApplicationConfig } from '@nestjs/core';
import { InputDispatcher } from '../../core/input/input-dispatcher.js';
import type { ChannelInputOutcome, ChannelInputRequest } from '../../core/input/input-forwarder.interface.js';
import { StreamRegistry } from '../../core/stream-registry.js';
import { StreamException, toStreamException } from '../../errors/stream-exception.js';
import { retryAfterSeconds } from '../../errors/retry-after.js';
import type { ResolvedLonglinkOptions } from '../../interfaces/longlink-options.interface.js';
import { LONGLINK_LOGGER_CONTEXT } from '../../longlink.constants.js';
import { LONGLINK_RESOLVED_OPTIONS } from '../../longlink.tokens.js';
import { HTTP_STATUS_BY_CODE, HttpHeader } from '../../protocol/http.protocol.js';
import { INPUT_CHANNEL, INPUT_MESSAGE_ID } from '../../protocol/input.protocol.js';
import { StreamErrorCode } from '../../protocol/stream-error-code.js';
import { SseBodyTooLargeError, readSseBody } from './sse.request.js';

/** Room in a body for the envelope around a message's data (`{"id":"<128 characters>","data":}`). */
const ENVELOPE_BYTES = 256;

/**
 * The endpoint that takes client messages of two-way streams over SSE (PROTOCOL.md §7.4):
 * `POST <global prefix>/<sse.inputPath>/<channel>` with `{"id","data"}` or `{"end":true}`,
 * answered `202` or a refusal with §2's status and JSON body. The message goes to the
 * subscription holding the channel, on this instance or, through the {@link InputDispatcher},
 * on the instance that holds it. The SSE transport registers the route on the HTTP adapter.
 */
@Injectable()
export class SseInputEndpoint {
  private readonly logger = new Logger(LONGLINK_LOGGER_CONTEXT);

  constructor(
    private readonly registry: StreamRegistry,
    private readonly dispatcher: InputDispatcher,
    private readonly config: ApplicationConfig,
    @Inject(LONGLINK_RESOLVED_OPTIONS) private readonly options: ResolvedLonglinkOptions,
  ) {}

  /** Whether any stream served over SSE takes client messages (else there is no endpoint). */
  get wanted(): boolean {
    return this.registry.forTransport('sse').some((d) => d.input !== undefined);
  }

  /** The route's path without the channel: `/<global prefix>/<inputPath>`. */
  get path(): string {
    const prefix = this.config.getGlobalPrefix().replace(/^\/+|\/+$/g, '');
    return `/${prefix ? `${prefix}/` : ''}${this.options.sse.inputPath}`;
  }

  /** Largest body read: the largest message any stream takes, plus its envelope. */
  private get maxBodyBytes(): number {
    let max = this.options.input.maxMessageBytes;
    for (const def of this.registry.all()) if (def.input && def.input.maxMessageBytes > max) max = def.input.maxMessageBytes;
    return max + ENVELOPE_BYTES;
  }

  /** Answers one POST; `parsed`: what the platform's body parser made of the body, if anything. */
  handle(req: IncomingMessage, res: ServerResponse, parsed: unknown): void {
    this.answer(req, res, parsed).catch((error: unknown) => {
      this.logger.error(`SSE input failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      if (!res.headersSent) this.refuse(res, new StreamException(StreamErrorCode.INTERNAL, 'Internal server error'));
      else res.end();
    });
  }

  private async answer(req: IncomingMessage, res: ServerResponse, parsed: unknown): Promise<void> {
    const pathname = (req.url ?? '/').split('?')[0]!;
    const channel = pathname.slice(pathname.lastIndexOf('/') + 1);
    if (!INPUT_CHANNEL.test(channel)) {
      return this.refuse(res, new StreamException(StreamErrorCode.BAD_REQUEST, 'The channel must be 16 to 128 characters of A-Z a-z 0-9 _ -'));
    }
    const limit = this.maxBodyBytes;
    let body: Record<string, unknown>;
    try {
      body = await readSseBody(req, parsed, limit, this.options.maxParamsDepth + 1);
    } catch (error) {
      if (error instanceof SseBodyTooLargeError) {
        // The rest of the body is not read: the connection closes after the answer.
        res.setHeader('connection', 'close');
        return this.refuse(res, error, 413);
      }
      return this.refuse(res, toStreamException(error));
    }
    let request: ChannelInputRequest;
    try {
      request = readMessage(body, bodyBytes(req, body));
    } catch (error) {
      return this.refuse(res, toStreamException(error));
    }
    this.reply(res, request, await this.dispatcher.deliver(channel, request));
  }

  private reply(res: ServerResponse, request: ChannelInputRequest, outcome: ChannelInputOutcome): void {
    if ('error' in outcome) {
      const { code, message, details } = outcome.error;
      return this.refuse(res, new StreamException(code, message, details), outcome.tooLarge ? 413 : undefined);
    }
    if ('ended' in outcome) return this.send(res, 202, { end: true });
    const id = (request as { id: string }).id;
    this.send(res, 202, outcome.duplicate ? { id, duplicate: true } : { id });
  }

  private refuse(res: ServerResponse, error: StreamException, status = HTTP_STATUS_BY_CODE[error.code]): void {
    const retryAfter = retryAfterSeconds(error);
    if (retryAfter !== undefined) res.setHeader(HttpHeader.RETRY_AFTER, String(retryAfter));
    this.send(res, status, error.toJSON());
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    if (res.headersSent || res.destroyed) return;
    const json = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      'content-length': Buffer.byteLength(json),
    });
    res.end(json);
  }
}

/** The size of a message as received: the declared body length, else its JSON's. */
function bodyBytes(req: IncomingMessage, body: Record<string, unknown>): number {
  const declared = Number(req.headers['content-length']);
  return Number.isFinite(declared) ? declared : Buffer.byteLength(JSON.stringify(body));
}

/** `{"id","data"}` or `{"end":true}`; throws `BAD_REQUEST` for anything else. */
function readMessage(body: Record<string, unknown>, bytes: number): ChannelInputRequest {
  const keys = Object.keys(body);
  if (body.end !== undefined) {
    if (body.end !== true || keys.length !== 1) throw new StreamException(StreamErrorCode.BAD_REQUEST, 'A half-close is the body {"end":true}');
    return { end: true };
  }
  if (keys.some((k) => k !== 'id' && k !== 'data')) {
    throw new StreamException(StreamErrorCode.BAD_REQUEST, 'A message is the body {"id":"<message id>","data":<JSON>}');
  }
  const { id, data } = body;
  if (typeof id !== 'string' || !INPUT_MESSAGE_ID.test(id)) {
    throw new StreamException(StreamErrorCode.BAD_REQUEST, 'Message id must be 1 to 128 printable ASCII characters');
  }
  return { id, data: data === undefined ? null : data, bytes };
}
