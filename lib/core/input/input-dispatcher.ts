import { Inject, Injectable, Logger, Optional, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { toStreamException, type StreamException } from '../../errors/stream-exception.js';
import { StreamErrorCode } from '../../protocol/stream-error-code.js';
import { LONGLINK_LOGGER_CONTEXT } from '../../longlink.constants.js';
import { INPUT_FORWARDER } from '../../longlink.tokens.js';
import { InputChannelRegistry } from './input-channel.registry.js';
import type { ChannelInputOutcome, ChannelInputRequest, InputForwarder } from './input-forwarder.interface.js';

/** The outcome of a refusal. */
export function refusedOutcome(error: StreamException, tooLarge = false): ChannelInputOutcome {
  return tooLarge ? { error: error.toJSON(), tooLarge } : { error: error.toJSON() };
}

const NO_HOLDER = { code: StreamErrorCode.NOT_FOUND, message: 'No subscription holds this channel' } as const;

/**
 * Delivers client messages addressed by channel (SSE POST, PROTOCOL.md §7.4) to the
 * subscription holding the channel: on this instance through the channel registry, else
 * through the {@link InputForwarder} to the instance that holds it (when there is one: the hub
 * on Redis), which answers with the same outcome.
 */
@Injectable()
export class InputDispatcher implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(LONGLINK_LOGGER_CONTEXT);

  constructor(
    private readonly channels: InputChannelRegistry,
    @Optional() @Inject(INPUT_FORWARDER) private readonly forwarder?: InputForwarder | null,
  ) {}

  onModuleInit(): void {
    if (!this.forwarder) return;
    this.channels.listen(this.forwarder);
    this.forwarder.serve(
      (channel, request) => this.deliverHere(channel, request),
      (channel) => this.channels.drop(channel),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    this.channels.listen(undefined);
    await this.forwarder?.close().catch((error: unknown) => this.logger.debug(`Input forwarder close: ${String(error)}`));
  }

  /** Delivers `request` to whichever instance holds `channel`. Never rejects. */
  deliver(channel: string, request: ChannelInputRequest): Promise<ChannelInputOutcome> {
    if (this.channels.get(channel) || !this.forwarder) return this.deliverHere(channel, request);
    return this.forwarder.forward(channel, request);
  }

  /** Delivers to the input holding `channel` on this instance. Never rejects. */
  async deliverHere(channel: string, request: ChannelInputRequest): Promise<ChannelInputOutcome> {
    const input = this.channels.get(channel);
    if (!input) return { error: NO_HOLDER };
    if (request.end) {
      input.end();
      return { ended: true };
    }
    if (request.bytes > input.maxMessageBytes) {
      const limitBytes = input.maxMessageBytes;
      return {
        error: { code: StreamErrorCode.BAD_REQUEST, message: `Message exceeds ${limitBytes} bytes`, details: { limitBytes } },
        tooLarge: true,
      };
    }
    try {
      return await input.offer(request.id, request.data, request.bytes);
    } catch (error) {
      return refusedOutcome(toStreamException(error));
    }
  }
}
