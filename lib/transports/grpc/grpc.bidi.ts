import type { Logger } from '@nestjs/common';
import type { InputRateLimiter } from '../../core/input/input-rate.limiter.js';
import type { StreamCallImpl } from '../../core/stream-call.js';
import type { StreamDefinition } from '../../core/stream-definition.js';
import { StreamException, toStreamException } from '../../errors/stream-exception.js';
import type { StreamEvent } from '../../interfaces/stream-event.interface.js';
import { StreamErrorCode } from '../../protocol/stream-error-code.js';
import { GrpcCallInput, type GrpcDuplexCall, type GrpcInputTarget } from './grpc.channel.js';
import { grpcChannelFrame, grpcTypedFrame, type GrpcFrame } from './grpc.framing.js';
import { checkChannel, checkLastEventId, paramsFromMetadata } from './grpc.request.js';
import { undecodableRequest, type DecodedChannelRequest } from './grpc.request-decoder.js';
import type { GrpcWriter } from './grpc.writer.js';

/** A subscription's start, as the transport runs it. */
export interface GrpcRunRequest {
  params: Record<string, unknown>;
  lastEventId: string | undefined;
  channel?: string;
  inputRate?: InputRateLimiter;
}

/** What the bidi methods need from the gRPC transport (one object per server). */
export interface GrpcBidiHost {
  /** A writer for the call, or `undefined` when the call is gone or was refused (shutdown). */
  writer(call: GrpcDuplexCall, frame: (event: StreamEvent) => GrpcFrame): GrpcWriter | undefined;
  /** Ends a call refused before its stream started (counted in metrics under `stream`). */
  refuse(writer: GrpcWriter, stream: string, error: StreamException): void;
  /** The stream a client names; `NOT_FOUND` or `BAD_REQUEST` otherwise. */
  find(requested: unknown): StreamDefinition;
  /** The stream name metrics may use for what a client named (`''` for a name that is no stream). */
  known(requested: string): string;
  /** The refusal of a new subscription while shutting down, else `undefined`. */
  closing(): StreamException | undefined;
  run(def: StreamDefinition, call: GrpcDuplexCall, writer: GrpcWriter, request: GrpcRunRequest): StreamCallImpl;
  /** The input rate limiter of the call's connection, when `input.rateLimit` is set. */
  rate(call: GrpcDuplexCall): InputRateLimiter | undefined;
  maxParamsDepth: number;
  logger: Logger;
}

/** `longlink.v1.Streams/Channel` (PROTOCOL.md §7.3): the first message subscribes, later ones are client messages. */
export function serveChannel(host: GrpcBidiHost, call: GrpcDuplexCall): void {
  const writer = host.writer(call, grpcChannelFrame);
  if (!writer) return;
  const options = { mode: 'generic' as const, maxDepth: host.maxParamsDepth, logger: host.logger };
  new GrpcCallInput(call, writer, options, (first) => openChannel(host, call, writer, first));
}

/** Starts a `Channel` call's subscription from its first message, or refuses the call. */
function openChannel(host: GrpcBidiHost, call: GrpcDuplexCall, writer: GrpcWriter, first: object): GrpcInputTarget | undefined {
  let name = '';
  try {
    const closing = host.closing();
    if (closing) throw closing;
    const undecodable = undecodableRequest(first);
    if (undecodable) throw undecodable;
    const message = first as DecodedChannelRequest;
    if (message.kind !== 'subscribe') throw new StreamException(StreamErrorCode.BAD_REQUEST, 'The first message must be subscribe');
    const request = message.subscribe;
    name = request.stream;
    const def = host.find(request.stream);
    const metadataId = call.metadata.get('last-event-id')[0];
    const channel = checkChannel(request.channel);
    const streamCall = host.run(def, call, writer, {
      params: request.params,
      lastEventId: checkLastEventId(request.lastEventId || (typeof metadataId === 'string' ? metadataId : undefined)),
      channel: def.input ? channel : undefined,
      inputRate: def.input ? host.rate(call) : undefined,
    });
    return { stream: def.name, input: streamCall.input, maxMessageBytes: def.input?.maxMessageBytes ?? 0 };
  } catch (error) {
    host.refuse(writer, host.known(name), toStreamException(error));
    return undefined;
  }
}

/**
 * A bound bidi method (`rpc M(stream In) returns (stream Out)`, PROTOCOL.md §7.3): params from
 * the `longlink-params` metadata, each request message one client message, no acks.
 */
export function serveTypedBidi(host: GrpcBidiHost, def: StreamDefinition, call: GrpcDuplexCall): void {
  const writer = host.writer(call, grpcTypedFrame);
  if (!writer) return;
  try {
    const metadataId = call.metadata.get('last-event-id')[0];
    const streamCall = host.run(def, call, writer, {
      params: paramsFromMetadata(call.metadata, host.maxParamsDepth),
      lastEventId: checkLastEventId(typeof metadataId === 'string' ? metadataId : undefined),
      inputRate: host.rate(call),
    });
    const reader = new GrpcCallInput(call, writer, { mode: 'typed', maxDepth: host.maxParamsDepth, logger: host.logger });
    reader.attach({ stream: def.name, input: streamCall.input, maxMessageBytes: def.input?.maxMessageBytes ?? 0 });
  } catch (error) {
    host.refuse(writer, def.name, toStreamException(error));
  }
}
