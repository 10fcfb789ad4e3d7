/**
 * The gRPC transport (Node only): `longlink.v1.Streams/Subscribe` of PROTOCOL.md §5 through
 * `@grpc/grpc-js` (an optional peer). The client imports this module on first use only, so
 * browser bundles never contain it.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ClientTransport, TransportHandle, TransportRequest, TransportSink } from './client.types.js';
import type { ResolvedClientOptions } from './client.options.js';
import { StreamError, lost, parseJson, violation } from './stream-error.js';
import { GRPC_ERROR_CODE_TRAILER, GRPC_ERROR_DETAILS_TRAILER, GRPC_RETRY_AFTER_TRAILER, codeOfGrpcStatus } from '../protocol/grpc.protocol.js';

type Value =
  | { nullValue: 'NULL_VALUE' }
  | { numberValue: number }
  | { stringValue: string }
  | { boolValue: boolean }
  | { structValue: { fields: Record<string, Value> } }
  | { listValue: { values: Value[] } };

/** A JSON value as a `google.protobuf.Value` (proto-loader takes Struct in its message form). */
function toValue(value: unknown): Value {
  if (value === null || value === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(toValue) } };
  return { structValue: toStruct(value as Record<string, unknown>) };
}

/** A plain object as a `google.protobuf.Struct` (also used by the tests' gRPC harness). */
export function toStruct(object: Record<string, unknown>): { fields: Record<string, Value> } {
  return { fields: Object.fromEntries(Object.entries(object).map(([k, v]) => [k, toValue(v)])) };
}

function protoPath(): string {
  const candidates = ['../../proto/longlink/v1/longlink.proto', '../../../proto/longlink/v1/longlink.proto'].map((p) =>
    fileURLToPath(new URL(p, import.meta.url)),
  );
  return candidates.find((c) => existsSync(c)) ?? candidates[0]!;
}

interface EventMessage {
  id: string;
  data: Buffer;
  reset: boolean;
}
/** `InputAck` of PROTOCOL.md §7.3 (proto-loader: camelCase, defaults filled in). */
interface InputAck {
  id: string;
  duplicate: boolean;
  errorCode: string;
  errorMessage: string;
  errorDetails: Buffer;
}
/** `ChannelResponse`: `kind` names the field of the oneof that is set. */
interface ChannelResponse {
  kind?: string;
  event?: EventMessage;
  ack?: InputAck;
}
type StreamsClient = grpc.Client & {
  Subscribe(request: object, metadata: grpc.Metadata): grpc.ClientReadableStream<EventMessage>;
  Channel(metadata: grpc.Metadata): grpc.ClientDuplexStream<object, ChannelResponse>;
};

/** An `InputAck` as the answer to its message: none for an ack, the refusal otherwise. */
export function refusalOf(ack: InputAck): StreamError | undefined {
  if (!ack.errorCode) return undefined;
  let details: unknown;
  try {
    details = ack.errorDetails?.length ? JSON.parse(Buffer.from(ack.errorDetails).toString('utf8')) : undefined;
  } catch {
    // malformed details are left out
  }
  return new StreamError(ack.errorCode, ack.errorMessage || 'Message refused', details);
}

class GrpcClientTransport implements ClientTransport {
  readonly name = 'grpc' as const;
  private readonly Streams: new (address: string, credentials: grpc.ChannelCredentials, options: grpc.ChannelOptions) => StreamsClient;
  private client: StreamsClient | undefined;
  private readonly calls = new Set<() => void>();

  constructor(private readonly options: ResolvedClientOptions) {
    if (!options.grpcUrl) throw new TypeError('createClient: `grpcUrl` is required for the gRPC transport');
    const definition = protoLoader.loadSync(protoPath(), { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true });
    const pkg = grpc.loadPackageDefinition(definition) as unknown as { longlink: { v1: { Streams: GrpcClientTransport['Streams'] } } };
    this.Streams = pkg.longlink.v1.Streams;
  }

  subscribe({ stream, params, lastEventId, channel }: TransportRequest, sink: TransportSink): TransportHandle {
    const credentials = (this.options.grpcCredentials as grpc.ChannelCredentials | undefined) ?? grpc.credentials.createInsecure();
    // Larger messages end the call with RESOURCE_EXHAUSTED (retried with backoff) before they are buffered.
    this.client ??= new this.Streams(this.options.grpcUrl!, credentials, { 'grpc.max_receive_message_length': this.options.maxMessageBytes });
    const metadata = new grpc.Metadata();
    for (const [k, v] of Object.entries(this.options.headers ?? {})) metadata.set(k.toLowerCase(), v);
    const request = { stream, params: toStruct(params), lastEventId: lastEventId ?? '', channel: channel ?? '' };
    // A channel is the bidi `Channel` method: the first message subscribes, later ones carry client messages (PROTOCOL.md §7.3).
    const duplex = channel ? this.client.Channel(metadata) : undefined;
    duplex?.write({ subscribe: request });
    const call: grpc.ClientReadableStream<unknown> & { cancel(): void } = duplex ?? this.client.Subscribe(request, metadata);
    let done = false;
    let opened = false;
    const open = () => !opened && ((opened = true), sink.open(), sink.accepted());
    const end = (error?: StreamError, retryAfterMs?: number) => {
      if (done) return;
      done = true;
      this.calls.delete(drop);
      sink.end(error, retryAfterMs);
    };
    const drop = () => {
      end(lost('Connection dropped'));
      call.cancel();
    };
    this.calls.add(drop);
    call.on('metadata', open);
    call.on('data', (message: EventMessage | ChannelResponse) => {
      if (done) return;
      open();
      let data: { reason?: string } | null;
      let m = message as EventMessage;
      try {
        if (duplex) {
          const { kind, event, ack } = message as ChannelResponse;
          if (kind === 'ack' && ack) return sink.answer?.(ack.id, refusalOf(ack));
          if (kind !== 'event' || !event) throw violation('a ChannelResponse with neither event nor ack');
          m = event;
        }
        data = parseJson(Buffer.from(m.data).toString('utf8'), 'gRPC event data') as typeof data;
      } catch (error) {
        // A protocol violation: this call is dropped (its late status ignored) and retried with backoff.
        end(error as StreamError);
        return call.cancel();
      }
      if (m.reset) sink.reset(m.id || undefined, String(data?.reason));
      else sink.next(m.id || undefined, data);
    });
    call.on('error', () => undefined); // the status says it all
    call.on('status', (status: grpc.StatusObject) => {
      if (status.code === grpc.status.OK) return end();
      const trailer = (key: string) => status.metadata.get(key)[0] as string | undefined;
      const code = trailer(GRPC_ERROR_CODE_TRAILER) ?? codeOfGrpcStatus(status.code);
      let details: unknown;
      try {
        const text = trailer(GRPC_ERROR_DETAILS_TRAILER);
        details = text ? JSON.parse(text) : undefined;
      } catch {
        // malformed details are left out
      }
      const retryAfter = Number(trailer(GRPC_RETRY_AFTER_TRAILER));
      end(new StreamError(code, status.details, details), Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined);
    });
    const cancel = () => {
      done = true;
      this.calls.delete(drop);
      call.cancel();
    };
    // Writes after the call ended are dropped (grpc-js would raise write-after-end).
    const writable = () => !done && duplex!.writable;
    return Object.assign(cancel, {
      send: (id: string, json: string) => writable() && duplex!.write({ input: { id, data: Buffer.from(json) } }),
      end: () => writable() && duplex!.end(),
    });
  }

  drop(): void {
    for (const drop of [...this.calls]) drop();
    this.client?.close();
    this.client = undefined;
  }

  close(): void {
    this.drop();
  }
}

/** Entry point the client's lazy loader calls. */
export function createTransport(options: ResolvedClientOptions): ClientTransport {
  return new GrpcClientTransport(options);
}
